//! Event-count charts as inline SVG, drawn on the server from `issue_hourly_counts`: no
//! JavaScript, and they print.

use maud::{html, Markup};

/// Counts per bucket, oldest first, of each issue: `buckets` buckets of `width` seconds ending
/// with the one that holds `now`.
pub fn bucket_counts(
    hourly: &[(i64, i64, i64)],
    issue_id: i64,
    now: f64,
    buckets: usize,
    width: i64,
) -> Vec<i64> {
    let end = (now as i64 / width + 1) * width;
    let start = end - buckets as i64 * width;
    let mut series = vec![0i64; buckets];
    for (_, hour, count) in hourly.iter().filter(|(id, _, _)| *id == issue_id) {
        if *hour < start {
            continue;
        }
        if let Some(slot) = usize::try_from((hour - start) / width)
            .ok()
            .and_then(|i| series.get_mut(i))
        {
            *slot += count;
        }
    }
    series
}

/// The since-time of `buckets` buckets of `width` seconds ending now.
pub fn series_start(now: f64, buckets: usize, width: i64) -> f64 {
    let end = (now as i64 / width + 1) * width;
    (end - buckets as i64 * width) as f64
}

/// A bar chart `width`×`height` px; each bar's tooltip is its count and `label` of its index.
pub fn bars(series: &[i64], width: u32, height: u32, label: impl Fn(usize) -> String) -> Markup {
    let max = series.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = series.len().max(1) as f64;
    let slot = f64::from(width) / n;
    let bar = (slot - 1.0).max(1.0);
    let h = f64::from(height);
    let total: i64 = series.iter().sum();
    html! {
        svg.chart width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) }
            role="img" aria-label={ (total) " events" } {
            @for (i, count) in series.iter().enumerate() {
                @let bar_h = if *count == 0 { 1.0 } else { (*count as f64 / max * (h - 1.0)).max(2.0) };
                rect x=(format!("{:.1}", i as f64 * slot)) y=(format!("{:.1}", h - bar_h))
                    width=(format!("{bar:.1}")) height=(format!("{bar_h:.1}"))
                    class=(if *count == 0 { "empty" } else { "full" }) {
                    title { (count) " · " (label(i)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fall_into_their_buckets() {
        let now = 10.0 * 3600.0 + 5.0;
        let hourly = vec![
            (1, 10 * 3600, 3),
            (1, 9 * 3600, 2),
            (2, 10 * 3600, 7),
            (1, 0, 9),
        ];
        assert_eq!(bucket_counts(&hourly, 1, now, 3, 3600), vec![0, 2, 3]);
        assert_eq!(bucket_counts(&hourly, 2, now, 3, 3600), vec![0, 0, 7]);
        assert_eq!(series_start(now, 3, 3600), 8.0 * 3600.0);
    }

    #[test]
    fn bars_have_one_rect_per_bucket() {
        let svg = bars(&[0, 5, 10], 30, 10, |i| format!("h{i}")).into_string();
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("10 · h2"));
    }
}
