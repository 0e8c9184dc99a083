//! What a stub server records, one entry per stream it serves, shared with the test that
//! reads it from a point on (`count` before the requests, `since` after).

use std::sync::Mutex;

/// One entry per stream, in the order the streams were opened.
#[derive(Debug)]
pub struct Journal<T>(Mutex<Vec<T>>);

impl<T> Default for Journal<T> {
    fn default() -> Self {
        Self(Mutex::new(Vec::new()))
    }
}

impl<T: Clone + Default> Journal<T> {
    /// How many streams were opened.
    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// A copy of every entry from `from` on (a value of [`Journal::count`] taken earlier).
    pub fn since(&self, from: usize) -> Vec<T> {
        self.0
            .lock()
            .unwrap()
            .get(from..)
            .unwrap_or_default()
            .to_vec()
    }

    /// Starts the entry of a new stream; returns its index.
    pub fn open(&self) -> usize {
        let mut entries = self.0.lock().unwrap();
        entries.push(T::default());
        entries.len() - 1
    }

    /// Edits the entry at `index`.
    pub fn update<R>(&self, index: usize, edit: impl FnOnce(&mut T) -> R) -> R {
        edit(&mut self.0.lock().unwrap()[index])
    }
}
