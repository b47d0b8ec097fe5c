//! A column of per-block request counts kept in the narrowest type that holds every one of them
//! exactly: `u16` while each block is a whole number under 65,536, `u32` past that, `f64` once
//! a block is fractional or past `u32`. Raw counters count requests, so their increments are
//! whole numbers, and a 5 s block of one bucket rarely holds 65,536 of them: a fleet of 50
//! running rollouts keeps thousands of these columns of up to `MAX_BLOCKS` blocks, and this
//! keeps them in a quarter of what `f64` took, with no count rounded.

/// Blocks a column grows by when it is full: a few minutes at a time, not doubled, since a
/// fleet keeps thousands of columns and doubling left up to half of each unused.
const GROWTH_BLOCKS: usize = 60;

#[derive(Debug, Clone, PartialEq)]
pub enum Blocks {
    Small(Vec<u16>),
    Whole(Vec<u32>),
    Any(Vec<f64>),
}

impl Default for Blocks {
    fn default() -> Self {
        Self::Small(Vec::new())
    }
}

/// `value` as a whole number no larger than `max`, if it is one.
fn whole_up_to(value: f64, max: u32) -> Option<u32> {
    (value.fract() == 0.0 && (0.0..=f64::from(max)).contains(&value)).then_some(value as u32)
}

/// Sets `blocks[i]`, growing the column (by `GROWTH_BLOCKS` past what is needed) when short.
fn put<T: Copy + Default>(blocks: &mut Vec<T>, i: usize, value: T) {
    if blocks.len() <= i {
        if blocks.capacity() <= i {
            blocks.reserve_exact(i + 1 - blocks.len() + GROWTH_BLOCKS);
        }
        blocks.resize(i + 1, T::default());
    }
    blocks[i] = value;
}

/// The same values in a wider type, with room for as many more as was left.
fn widen<T: Copy, U: From<T>>(narrow: &[T], capacity: usize) -> Vec<U> {
    let mut wide = Vec::with_capacity(capacity);
    wide.extend(narrow.iter().map(|v| U::from(*v)));
    wide
}

impl Blocks {
    /// Blocks held (those past it count 0).
    pub fn len(&self) -> usize {
        match self {
            Self::Small(b) => b.len(),
            Self::Whole(b) => b.len(),
            Self::Any(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The count of block `i` (0 past what is held).
    pub fn get(&self, i: usize) -> f64 {
        match self {
            Self::Small(b) => b.get(i).map_or(0.0, |v| f64::from(*v)),
            Self::Whole(b) => b.get(i).map_or(0.0, |v| f64::from(*v)),
            Self::Any(b) => b.get(i).copied().unwrap_or(0.0),
        }
    }

    /// Adds `count` (not negative) to block `i`, widening the column when the sum no longer
    /// fits its type exactly.
    pub fn add(&mut self, i: usize, count: f64) {
        let sum = self.get(i) + count.max(0.0);
        match self {
            Self::Small(b) => match whole_up_to(sum, u32::from(u16::MAX)) {
                Some(v) => put(b, i, v as u16),
                None => {
                    *self = Self::Whole(widen(b, b.capacity()));
                    self.add(i, count);
                }
            },
            Self::Whole(b) => match whole_up_to(sum, u32::MAX) {
                Some(v) => put(b, i, v),
                None => {
                    *self = Self::Any(widen(b, b.capacity()));
                    self.add(i, count);
                }
            },
            Self::Any(b) => put(b, i, sum),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_whole_counts_stay_small() {
        let mut b = Blocks::default();
        b.add(3, 5.0);
        b.add(3, 2.0);
        b.add(0, 65_000.0);
        assert!(matches!(b, Blocks::Small(_)));
        assert_eq!(
            (0..5).map(|i| b.get(i)).collect::<Vec<_>>(),
            [65_000.0, 0.0, 0.0, 7.0, 0.0]
        );
        assert_eq!(b.len(), 4);
    }

    #[test]
    fn a_count_past_u16_widens_and_keeps_the_others() {
        let mut b = Blocks::default();
        b.add(1, 7.0);
        b.add(0, 65_535.0);
        assert!(matches!(b, Blocks::Small(_)));
        b.add(0, 1.0);
        assert!(matches!(b, Blocks::Whole(_)));
        assert_eq!((b.get(0), b.get(1)), (65_536.0, 7.0));
        b.add(2, f64::from(u32::MAX) + 1.0);
        assert!(matches!(b, Blocks::Any(_)));
        assert_eq!(
            (b.get(0), b.get(1), b.get(2)),
            (65_536.0, 7.0, 4_294_967_296.0)
        );
    }

    #[test]
    fn a_fraction_is_kept_exactly() {
        let mut b = Blocks::default();
        b.add(0, 2.0);
        b.add(1, 0.25);
        assert!(matches!(b, Blocks::Any(_)));
        assert_eq!((b.get(0), b.get(1), b.get(9)), (2.0, 0.25, 0.0));
        // Negative counts are not counts (an increment is never negative).
        b.add(1, -3.0);
        assert_eq!(b.get(1), 0.25);
    }

    proptest! {
        /// Whatever is added, each block reads what f64 sums read.
        #[test]
        fn reads_what_f64_sums_read(
            adds in proptest::collection::vec(
                (0..200usize, prop_oneof![
                    100 => (0..300u32).prop_map(f64::from),
                    1 => (0..200_000u32).prop_map(f64::from),
                    1 => Just(5_000_000_000.0),
                    1 => (0..1000u32).prop_map(|v| f64::from(v) / 8.0),
                ]),
                0..300,
            ),
        ) {
            let mut blocks = Blocks::default();
            let mut sums = vec![0.0f64; 200];
            for (i, count) in adds {
                blocks.add(i, count);
                sums[i] += count;
            }
            for (i, sum) in sums.iter().enumerate() {
                prop_assert_eq!(blocks.get(i), *sum);
            }
        }
    }
}
