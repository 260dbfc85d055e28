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

/// A duration histogram from `(from_ms, to_ms, count)` bins: bars with each bin's range as
/// tooltip and the fastest and slowest bound under the chart.
pub fn histogram(bins: &[(f64, f64, u64)], width: u32, height: u32) -> Markup {
    let counts: Vec<i64> = bins
        .iter()
        .map(|(_, _, n)| i64::try_from(*n).unwrap_or(i64::MAX))
        .collect();
    let range = |i: usize| {
        bins.get(i)
            .map(|(from, to, _)| format!("{from:.0}–{to:.0} ms"))
            .unwrap_or_default()
    };
    let low = bins.first().map_or(0.0, |(from, _, _)| *from);
    let high = bins.last().map_or(0.0, |(_, to, _)| *to);
    html! {
        figure.histogram {
            (bars(&counts, width, height, range))
            @if !bins.is_empty() {
                figcaption.axis { span { (format!("{low:.0} ms")) } span { (format!("{high:.0} ms")) } }
            } @else {
                figcaption.muted { "No durations in this period." }
            }
        }
    }
}

/// A line `width`×`height` px through the points that have a value (`None`: no data in that
/// bucket, a gap in the line); each point's tooltip is `label` of its index and its value as
/// `format` writes it.
pub fn line(
    points: &[Option<f64>],
    width: u32,
    height: u32,
    label: impl Fn(usize) -> String,
    format: impl Fn(f64) -> String,
) -> Markup {
    let max = points
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let n = points.len().max(1) as f64;
    let slot = f64::from(width) / n;
    let h = f64::from(height);
    let xy = |i: usize, v: f64| {
        (
            i as f64 * slot + slot / 2.0,
            h - 2.0 - (v / max).clamp(0.0, 1.0) * (h - 4.0),
        )
    };
    // Runs of consecutive buckets with data, each drawn as one polyline.
    let mut runs: Vec<String> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for (i, point) in points.iter().enumerate() {
        match point.filter(|v| v.is_finite()) {
            Some(v) => {
                let (x, y) = xy(i, v);
                current.push(format!("{x:.1},{y:.1}"));
            }
            None if !current.is_empty() => runs.push(std::mem::take(&mut current).join(" ")),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current.join(" "));
    }
    html! {
        svg.chart.line-chart width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) }
            role="img" aria-label={ "highest " (format(if max > f64::MIN_POSITIVE { max } else { 0.0 })) } {
            line.baseline x1="0" y1=(format!("{:.1}", h - 1.0)) x2=(width) y2=(format!("{:.1}", h - 1.0)) {}
            @for run in &runs {
                polyline points=(run) {}
            }
            @for (i, point) in points.iter().enumerate() {
                @if let Some(v) = point.filter(|v| v.is_finite()) {
                    @let (x, y) = xy(i, v);
                    circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="2" {
                        title { (format(v)) " · " (label(i)) }
                    }
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

    #[test]
    fn histogram_labels_each_bin_with_its_range() {
        let svg = histogram(
            &[(0.0, 50.0, 3), (50.0, 100.0, 0), (100.0, 150.0, 1)],
            90,
            20,
        )
        .into_string();
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("3 · 0–50 ms"), "{svg}");
        assert!(svg.contains("150 ms"));
    }

    #[test]
    fn lines_break_where_buckets_are_empty() {
        let svg = line(
            &[Some(1.0), Some(2.0), None, Some(4.0)],
            40,
            10,
            |i| format!("b{i}"),
            |v| format!("{v} ms"),
        )
        .into_string();
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("4 ms · b3"));
    }
}
