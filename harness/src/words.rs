//! How counts read in the sentences people see (reasons, summaries): `1 cell
//! differs`, `2 cells differ`.

/// `n` with the phrase that agrees with it: `one` after 1, `many` otherwise.
pub fn counted<N>(n: N, one: &str, many: &str) -> String
where
    N: std::fmt::Display + PartialEq + From<u8>,
{
    if n == N::from(1) {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_takes_the_singular_and_every_other_count_the_plural() {
        assert_eq!(
            super::counted(1, "cell differs", "cells differ"),
            "1 cell differs"
        );
        assert_eq!(
            super::counted(0, "cell differs", "cells differ"),
            "0 cells differ"
        );
        assert_eq!(super::counted(24_u32, "attempt", "attempts"), "24 attempts");
    }
}
