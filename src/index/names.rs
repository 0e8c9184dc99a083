//! Positions by name, for the index's two joins: an HCM's RDS name to its route
//! configurations, and a route's cluster name to its cluster.
//!
//! A fleet has thousands of route configurations and tens of thousands of clusters. A
//! `HashMap<String, _>` of them is a `String` per name and a table of 32-byte slots, rebuilt on
//! every call; here the names are laid end to end in one `String` and the table holds only
//! positions, hashed by the name they point at.

use std::fmt;
use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

/// Names in request order, and the positions that carry each.
#[derive(Default)]
pub(crate) struct Names {
    /// Every name, one after another.
    text: String,
    /// Per position, where its name ends in `text`; it starts where the previous one ends.
    ends: Vec<usize>,
    /// Per distinct name: its first and last position.
    table: HashTable<(usize, usize)>,
    /// Per position: the next position with the same name.
    next: Vec<Option<usize>>,
    hasher: RandomState,
}

impl Names {
    /// Indexes `names`, position by position.
    pub(super) fn new<S: AsRef<str>>(names: impl ExactSizeIterator<Item = S>) -> Self {
        let mut this = Self {
            ends: Vec::with_capacity(names.len()),
            table: HashTable::with_capacity(names.len()),
            next: Vec::with_capacity(names.len()),
            ..Self::default()
        };
        for (position, name) in names.enumerate() {
            this.push(position, name.as_ref());
        }
        this
    }

    fn push(&mut self, position: usize, name: &str) {
        self.text.push_str(name);
        self.ends.push(self.text.len());
        self.next.push(None);
        let hash = self.hasher.hash_one(name);
        let Self {
            text,
            ends,
            table,
            next,
            hasher,
        } = self;
        let same = |&(first, _): &(usize, usize)| name_at(text, ends, first) == name;
        match table.find_mut(hash, same) {
            Some((_, last)) => {
                if let Some(link) = next.get_mut(*last) {
                    *link = Some(position);
                }
                *last = position;
            }
            None => {
                let rehash =
                    |&(first, _): &(usize, usize)| hasher.hash_one(name_at(text, ends, first));
                table.insert_unique(hash, (position, position), rehash);
            }
        }
    }

    /// The first position named `name`.
    pub(crate) fn first(&self, name: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(name);
        let same = |&(first, _): &(usize, usize)| self.name(first) == name;
        self.table.find(hash, same).map(|&(first, _)| first)
    }

    /// Every position named `name`, in order.
    pub(crate) fn all(&self, name: &str) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(self.first(name), |p| self.next.get(*p).copied().flatten())
    }

    /// The name at `position`.
    fn name(&self, position: usize) -> &str {
        name_at(&self.text, &self.ends, position)
    }
}

fn name_at<'a>(text: &'a str, ends: &[usize], position: usize) -> &'a str {
    let start = match position.checked_sub(1) {
        Some(previous) => ends.get(previous).copied().unwrap_or_default(),
        None => 0,
    };
    let end = ends.get(position).copied().unwrap_or_default();
    text.get(start..end).unwrap_or_default()
}

/// How many names, and how many distinct.
impl fmt::Debug for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Names")
            .field("names", &self.ends.len())
            .field("distinct", &self.table.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_first_and_every_position_of_a_name() {
        let names = Names::new(["a", "bb", "a", "", "c", "a"].into_iter());
        assert_eq!(names.first("a"), Some(0));
        assert_eq!(names.all("a").collect::<Vec<_>>(), [0, 2, 5]);
        assert_eq!(names.first("bb"), Some(1));
        assert_eq!(names.first(""), Some(3));
        assert_eq!(names.first("b"), None);
        assert_eq!(names.all("d").count(), 0);
        assert_eq!(names.name(4), "c");
        assert_eq!(names.name(9), "", "out of range reads as empty");
    }

    #[test]
    fn names_that_run_together_stay_apart() {
        // "ab" + "c" and "a" + "bc" lie in `text` as the same bytes.
        let names = Names::new(["ab", "c", "a", "bc"].into_iter());
        assert_eq!(names.first("abc"), None);
        assert_eq!(names.first("bc"), Some(3));
        assert_eq!(names.first("c"), Some(1));
    }

    #[test]
    fn many_names_some_repeated() {
        let many: Vec<String> = (0..5_000)
            .map(|i| format!("cluster-{}", i % 4_000))
            .collect();
        let names = Names::new(many.iter().map(String::as_str));
        assert_eq!(names.first("cluster-3999"), Some(3_999));
        assert_eq!(names.all("cluster-10").collect::<Vec<_>>(), [10, 4_010]);
    }
}
