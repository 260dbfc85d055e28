//! Which rows answer a time range: the range split into whole days (daily rollups), whole hours
//! (hourly rollups) and the partial hours at its ends (transaction rows), for one range or for
//! every bucket of a series at once.

use crate::UnixTime;

pub(crate) const HOUR: i64 = 3_600;
pub(crate) const DAY: i64 = 86_400;

/// Where one piece of a range is read from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Source {
    /// Transaction rows with `from <= start < to` (`None`: unbounded).
    Rows {
        from: Option<UnixTime>,
        to: Option<UnixTime>,
    },
    /// Rollup rows of this granularity with `first <= start < end`.
    Rollup {
        granularity: i64,
        first: i64,
        end: i64,
    },
}

/// The pieces of `[since, until)`; with `rows_only` (tag conditions, which rollups do not
/// know) one piece of rows.
pub(crate) fn split(
    since: Option<UnixTime>,
    until: Option<UnixTime>,
    rows_only: bool,
) -> Vec<Source> {
    if rows_only {
        return vec![Source::Rows {
            from: since,
            to: until,
        }];
    }
    // Whole hours inside the range; an unbounded end is as far as the daily tier goes.
    let first_hour = since.map_or(i64::MIN, |s| ceil_to(s, HOUR));
    let end_hour = until.map_or(i64::MAX, |u| floor_to(u, HOUR));
    if first_hour >= end_hour {
        return vec![Source::Rows {
            from: since,
            to: until,
        }];
    }
    let mut pieces = Vec::new();
    if let Some(since) = since {
        if since < first_hour as f64 {
            pieces.push(Source::Rows {
                from: Some(since),
                to: Some(first_hour as f64),
            });
        }
    }
    let first_day = if first_hour == i64::MIN {
        i64::MIN
    } else {
        ceil_int(first_hour, DAY)
    };
    let end_day = if end_hour == i64::MAX {
        i64::MAX
    } else {
        floor_int(end_hour, DAY)
    };
    if first_day < end_day {
        if first_hour < first_day {
            pieces.push(rollup(HOUR, first_hour, first_day));
        }
        pieces.push(rollup(DAY, first_day, end_day));
        if end_day < end_hour {
            pieces.push(rollup(HOUR, end_day, end_hour));
        }
    } else {
        pieces.push(rollup(HOUR, first_hour, end_hour));
    }
    if let Some(until) = until {
        if (end_hour as f64) < until {
            pieces.push(Source::Rows {
                from: Some(end_hour as f64),
                to: Some(until),
            });
        }
    }
    pieces
}

fn rollup(granularity: i64, first: i64, end: i64) -> Source {
    Source::Rollup {
        granularity,
        first,
        end,
    }
}

/// The pieces of several ranges (a series' buckets), and the reads that fetch them: adjacent
/// pieces of one source become one read, and each row read is given back to its range.
#[derive(Debug)]
pub(crate) struct Plan {
    /// `(range index, piece)`, in range order.
    pieces: Vec<(usize, Source)>,
    /// Row pieces `(from, to, range)` by `from`.
    row_pieces: Vec<(Option<UnixTime>, Option<UnixTime>, usize)>,
    /// Rollup pieces `(granularity, first, end, range)` by granularity and start.
    rollup_pieces: Vec<(i64, i64, i64, usize)>,
}

/// One read: rows of one source between two bounds. A run of adjacent pieces of one source
/// merged into one, so it has a piece's shape.
pub(crate) type Read = Source;

impl Plan {
    pub fn new(ranges: &[(Option<UnixTime>, Option<UnixTime>)], rows_only: bool) -> Plan {
        let pieces: Vec<(usize, Source)> = ranges
            .iter()
            .enumerate()
            .flat_map(|(n, (since, until))| {
                split(*since, *until, rows_only)
                    .into_iter()
                    .map(move |piece| (n, piece))
            })
            .collect();
        let mut row_pieces: Vec<_> = pieces
            .iter()
            .filter_map(|(n, piece)| match piece {
                Source::Rows { from, to } => Some((*from, *to, *n)),
                Source::Rollup { .. } => None,
            })
            .collect();
        row_pieces.sort_by(|a, b| a.0.unwrap_or(f64::MIN).total_cmp(&b.0.unwrap_or(f64::MIN)));
        let mut rollup_pieces: Vec<_> = pieces
            .iter()
            .filter_map(|(n, piece)| match piece {
                Source::Rollup {
                    granularity,
                    first,
                    end,
                } => Some((*granularity, *first, *end, *n)),
                Source::Rows { .. } => None,
            })
            .collect();
        rollup_pieces.sort_unstable();
        Plan {
            pieces,
            row_pieces,
            rollup_pieces,
        }
    }

    /// The reads to make: runs of adjacent pieces of the same source.
    pub fn reads(&self) -> Vec<Read> {
        let mut reads: Vec<Read> = Vec::new();
        let mut pieces: Vec<Source> = self.pieces.iter().map(|(_, p)| *p).collect();
        pieces.sort_by(|a, b| source_order(a).total_cmp(&source_order(b)));
        for piece in pieces {
            let extended = match (reads.last_mut(), piece) {
                (Some(Read::Rows { to, .. }), Source::Rows { from, to: new_to })
                    if to.is_some() && *to == from =>
                {
                    *to = new_to;
                    true
                }
                (
                    Some(Read::Rollup {
                        granularity, end, ..
                    }),
                    Source::Rollup {
                        granularity: g,
                        first,
                        end: new_end,
                    },
                ) if *granularity == g && *end == first => {
                    *end = new_end;
                    true
                }
                _ => false,
            };
            if !extended {
                reads.push(piece);
            }
        }
        reads
    }

    /// The range a transaction (or span) row that started at `start` counts in.
    pub fn range_of_row(&self, start: UnixTime) -> Option<usize> {
        // Pieces of one range are in time order and ranges do not overlap, so a binary search
        // over the row pieces finds the only candidate.
        let rows = &self.row_pieces;
        let index = rows.partition_point(|(from, _, _)| from.is_none_or(|f| f <= start));
        let (from, to, n) = rows.get(index.checked_sub(1)?)?;
        (from.is_none_or(|f| start >= f) && to.is_none_or(|t| start < t)).then_some(*n)
    }

    /// The range a rollup row of `granularity` starting at `start` counts in.
    pub fn range_of_rollup(&self, granularity: i64, start: i64) -> Option<usize> {
        let pieces = &self.rollup_pieces;
        let index = pieces.partition_point(|(g, first, _, _)| (*g, *first) <= (granularity, start));
        let (g, first, end, n) = pieces.get(index.checked_sub(1)?)?;
        (*g == granularity && start >= *first && start < *end).then_some(*n)
    }
}

/// Orders pieces so that adjacent ones of one source follow each other: by source, then time.
fn source_order(piece: &Source) -> f64 {
    match piece {
        Source::Rows { from, .. } => from.unwrap_or(f64::MIN),
        // Rollups after rows, by granularity, then start.
        Source::Rollup {
            granularity, first, ..
        } => 1e30 * (*granularity as f64 / HOUR as f64) + *first as f64 / 1e6,
    }
}

fn floor_to(at: f64, unit: i64) -> i64 {
    ((at / unit as f64).floor() as i64).saturating_mul(unit)
}

fn ceil_to(at: f64, unit: i64) -> i64 {
    ((at / unit as f64).ceil() as i64).saturating_mul(unit)
}

fn floor_int(at: i64, unit: i64) -> i64 {
    at.div_euclid(unit) * unit
}

fn ceil_int(at: i64, unit: i64) -> i64 {
    -((-at).div_euclid(unit) * unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: f64 = DAY as f64;
    const H: f64 = HOUR as f64;

    #[test]
    fn a_month_is_days_with_hours_and_rows_at_its_ends() {
        let since = 10.0 * D + 5.0 * H + 30.0;
        let until = 40.0 * D + 2.0 * H + 7.0;
        assert_eq!(
            split(Some(since), Some(until), false),
            vec![
                Source::Rows {
                    from: Some(since),
                    to: Some(10.0 * D + 6.0 * H)
                },
                rollup(HOUR, 10 * DAY + 6 * HOUR, 11 * DAY),
                rollup(DAY, 11 * DAY, 40 * DAY),
                rollup(HOUR, 40 * DAY, 40 * DAY + 2 * HOUR),
                Source::Rows {
                    from: Some(40.0 * D + 2.0 * H),
                    to: Some(until)
                },
            ]
        );
    }

    #[test]
    fn short_and_conditional_ranges_are_rows() {
        assert_eq!(
            split(Some(100.0), Some(2_000.0), false),
            vec![Source::Rows {
                from: Some(100.0),
                to: Some(2_000.0)
            }]
        );
        assert_eq!(
            split(Some(0.0), Some(D), true),
            vec![Source::Rows {
                from: Some(0.0),
                to: Some(D)
            }]
        );
        assert_eq!(
            split(Some(H), Some(3.0 * H), false),
            vec![rollup(HOUR, HOUR, 3 * HOUR)]
        );
    }

    #[test]
    fn unbounded_ranges_read_the_daily_tier() {
        assert_eq!(
            split(None, None, false),
            vec![rollup(DAY, i64::MIN, i64::MAX)]
        );
        let pieces = split(None, Some(2.0 * D + H + 1.0), false);
        assert_eq!(
            pieces,
            vec![
                rollup(DAY, i64::MIN, 2 * DAY),
                rollup(HOUR, 2 * DAY, 2 * DAY + HOUR),
                Source::Rows {
                    from: Some(2.0 * D + H),
                    to: Some(2.0 * D + H + 1.0)
                },
            ]
        );
    }

    #[test]
    fn a_series_reads_each_source_once_and_gives_rows_back_to_their_bucket() {
        // Three daily buckets aligned to days: one read of the daily tier.
        let ranges: Vec<_> = (5..8)
            .map(|n| (Some(n as f64 * D), Some((n + 1) as f64 * D)))
            .collect();
        let plan = Plan::new(&ranges, false);
        assert_eq!(
            plan.reads(),
            vec![Read::Rollup {
                granularity: DAY,
                first: 5 * DAY,
                end: 8 * DAY
            }]
        );
        assert_eq!(plan.range_of_rollup(DAY, 6 * DAY), Some(1));
        assert_eq!(plan.range_of_rollup(HOUR, 6 * DAY), None);
        // From an unaligned start: hours inside, rows at the edges, each row to its bucket.
        let since = 5.0 * D + 30.0;
        let ranges: Vec<_> = (0..3)
            .map(|n| (Some(since + n as f64 * D), Some(since + (n + 1) as f64 * D)))
            .collect();
        let plan = Plan::new(&ranges, false);
        assert_eq!(plan.range_of_rollup(HOUR, 5 * DAY + 2 * HOUR), Some(0));
        assert_eq!(plan.range_of_rollup(HOUR, 6 * DAY + 2 * HOUR), Some(1));
        assert_eq!(plan.range_of_row(5.0 * D + 40.0), Some(0));
        assert_eq!(plan.range_of_row(6.0 * D + 10.0), Some(0));
        assert_eq!(plan.range_of_row(6.0 * D + 40.0), Some(1));
        assert_eq!(plan.range_of_row(8.0 * D + 10.0), Some(2));
        assert_eq!(plan.range_of_row(9.0 * D), None);
        // Half-hour buckets are all rows, read in one go.
        let ranges: Vec<_> = (0..4)
            .map(|n| (Some(n as f64 * 1800.0), Some((n + 1) as f64 * 1800.0)))
            .collect();
        let plan = Plan::new(&ranges, false);
        assert_eq!(
            plan.reads(),
            vec![Read::Rows {
                from: Some(0.0),
                to: Some(2.0 * H)
            }]
        );
        assert_eq!(plan.range_of_row(1_900.0), Some(1));
    }
}
