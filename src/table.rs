//! Markdown tables for reports and terminal output.

use std::fmt;

/// A Markdown table with right-aligned numeric columns.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table { headers: headers.into_iter().map(Into::into).collect(), rows: Vec::new() }
    }

    /// Appends a row; missing cells are left empty and extra cells dropped.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Self {
        let mut r: Vec<String> = cells.into_iter().map(Into::into).collect();
        r.resize(self.headers.len(), String::new());
        self.rows.push(r);
        self
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

fn numeric(s: &str) -> bool {
    !s.is_empty() && s.trim_start_matches(['-', '+']).chars().all(|c| c.is_ascii_digit() || ".e-+%×".contains(c))
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let esc = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|c| {
                self.rows
                    .iter()
                    .map(|r| esc(&r[c]).chars().count())
                    .chain([esc(&self.headers[c]).chars().count(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let right: Vec<bool> = (0..self.headers.len())
            .map(|c| !self.rows.is_empty() && self.rows.iter().all(|r| r[c].is_empty() || numeric(&r[c])))
            .collect();
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
            write!(f, "|")?;
            for (c, cell) in cells.iter().enumerate() {
                let cell = esc(cell);
                if right[c] {
                    write!(f, " {cell:>w$} |", w = widths[c])?
                } else {
                    write!(f, " {cell:<w$} |", w = widths[c])?
                }
            }
            writeln!(f)
        };
        line(f, &self.headers)?;
        write!(f, "|")?;
        for (c, w) in widths.iter().enumerate() {
            if right[c] { write!(f, " {}: |", "-".repeat(w - 1))? } else { write!(f, " {} |", "-".repeat(*w))? }
        }
        writeln!(f)?;
        for r in &self.rows {
            line(f, r)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_aligned_markdown() {
        let mut t = Table::new(["model", "F1"]);
        t.row(["SmolLM2|135M", "4.25"]).row(["x", "10.0"]);
        let s = t.to_string();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1], "| ------------- | ---: |");
        assert!(lines[2].contains("SmolLM2\\|135M") && lines[2].ends_with("| 4.25 |"), "{s}");
        assert!(lines.iter().all(|l| l.chars().count() == lines[0].chars().count()));
    }
}
