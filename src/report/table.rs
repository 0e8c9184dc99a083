//! Aligned text columns, the one table layout of `explain` (chains, routes, clusters, policies
//! and InferencePools alike).

use std::fmt::Write as _;

/// Writes rows as aligned columns; the last column is not padded.
pub(crate) fn table<'a, R: AsRef<[&'a str]>>(out: &mut String, header: &[&str], rows: &[R]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row.as_ref()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let columns = widths.len();
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == columns {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<w$}  ");
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(header);
    for row in rows {
        line(row.as_ref());
    }
}
