//! Bar charts as geometry: where each bar, tick, gridline, label and target line goes, for the
//! page template to draw as inline SVG. No markup here and no text that is not data: the
//! template escapes everything it prints.

/// One bar (a week).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Left edge, px.
    pub x: f64,
    /// Top edge, px.
    pub y: f64,
    /// Width, px.
    pub w: f64,
    /// Height, px (0 for a zero value).
    pub h: f64,
    /// Centre, px: where the x label and the "no data" mark go.
    pub cx: f64,
    /// The week (`11-02`).
    pub label: String,
    /// Whether the label is printed under the axis (every other one when crowded).
    pub show_label: bool,
    /// The value in words, or `None` for a week without data.
    pub value: Option<String>,
    /// The bar is beyond the target (drawn in the "missed" colour).
    pub over: bool,
}

/// A tick of the y axis, with its gridline.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Height, px.
    pub y: f64,
    /// Value in words.
    pub label: String,
}

/// A horizontal target line.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetLine {
    /// Height, px.
    pub y: f64,
    /// `target 14`, `target 5.0 %`.
    pub label: String,
}

/// Whether a larger or a smaller value is better, for the colour of bars past the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Deploys per week.
    Higher,
    /// Failure rate, lead and recovery time.
    Lower,
    /// No judgement (incidents): bars all one colour.
    Neither,
}

/// A chart ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Heading, and the SVG's accessible name.
    pub title: String,
    /// What the y axis counts (`deploys`, `%`, `minutes`).
    pub unit: String,
    /// What a bar is, for the legend (`deploys in the week`, `median of the week`).
    pub series: String,
    /// Canvas size, px.
    pub width: f64,
    /// Canvas size, px.
    pub height: f64,
    /// Plot area: left edge, px.
    pub left: f64,
    /// Plot area: right edge, px.
    pub right: f64,
    /// Plot area: top, px.
    pub top: f64,
    /// Plot area: bottom (the x axis), px.
    pub bottom: f64,
    /// Bars, oldest week first.
    pub bars: Vec<Bar>,
    /// Y ticks from 0 up.
    pub ticks: Vec<Tick>,
    /// The target, when there is one.
    pub target: Option<TargetLine>,
    /// No week has data: the template says so in words instead of drawing an empty frame.
    pub empty: bool,
    /// Some bar is past the target (the legend explains its colour).
    pub has_over: bool,
}

/// Round to 0.1 px: short numbers in the SVG.
fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A "nice" step for about `want` intervals up to `max`: 1, 2 or 5 times a power of ten.
pub fn nice_step(max: f64, want: u32) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let raw = max / f64::from(want.max(1));
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Lay out a bar chart of `values` (one per label; `None`: no data that week).
pub fn bars(
    title: &str,
    unit: &str,
    labels: &[String],
    values: &[Option<f64>],
    fmt: &dyn Fn(f64) -> String,
    target: Option<f64>,
    better: Better,
) -> Chart {
    let (width, height) = (560.0_f64, 220.0_f64);
    let (left, right, top, bottom) = (56.0, width - 12.0, 26.0, height - 30.0);
    let peak = values
        .iter()
        .flatten()
        .copied()
        .chain(target)
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let step = nice_step(peak, 4);
    // The axis ends at the first tick at or above the peak (at least one step).
    let ticks_n = ((peak / step).ceil() as u32).clamp(1, 12);
    let max = step * f64::from(ticks_n);
    let y_of = |v: f64| bottom - (v.clamp(0.0, max) / max) * (bottom - top);
    let ticks = (0..=ticks_n)
        .map(|i| {
            let v = step * f64::from(i);
            Tick {
                y: r1(y_of(v)),
                label: fmt(v),
            }
        })
        .collect();
    let n = values.len().max(1) as f64;
    let slot = (right - left) / n;
    let crowded = labels.len() > 8;
    let bars = labels
        .iter()
        .zip(values)
        .enumerate()
        .map(|(i, (label, v))| {
            let x = left + i as f64 * slot + slot * 0.15;
            let w = (slot * 0.7).max(1.0);
            let (y, h) = match v {
                Some(v) => {
                    let y = y_of(*v);
                    (y, bottom - y)
                }
                None => (bottom, 0.0),
            };
            let over = match (v, target, better) {
                (Some(v), Some(t), Better::Higher) => *v < t,
                (Some(v), Some(t), Better::Lower) => *v > t,
                _ => false,
            };
            Bar {
                x: r1(x),
                y: r1(y),
                w: r1(w),
                h: r1(h),
                cx: r1(x + w / 2.0),
                label: label.clone(),
                show_label: !crowded || i % 2 == 0,
                value: v.map(fmt),
                over,
            }
        })
        .collect::<Vec<Bar>>();
    let has_over = bars.iter().any(|b| b.over);
    Chart {
        has_over,
        title: title.to_string(),
        unit: unit.to_string(),
        series: format!("{unit} in the week"),
        width,
        height,
        left,
        right,
        top,
        bottom,
        bars,
        ticks,
        target: target.map(|t| TargetLine {
            y: r1(y_of(t)),
            label: format!("target {}", fmt(t)),
        }),
        empty: values.iter().all(Option::is_none),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(10.0, 4), 5.0);
        assert_eq!(nice_step(7.0, 4), 2.0);
        assert_eq!(nice_step(100.0, 4), 50.0);
        assert_eq!(nice_step(0.3, 4), 0.1);
        assert_eq!(nice_step(0.0, 4), 1.0);
        assert_eq!(nice_step(f64::NAN, 4), 1.0);
    }

    #[test]
    fn the_axis_covers_the_peak_and_the_target() {
        let labels: Vec<String> = (0..4).map(|i| format!("w{i}")).collect();
        let c = bars(
            "t",
            "n",
            &labels,
            &[Some(3.0), None, Some(9.0), Some(0.0)],
            &|v| format!("{v:.0}"),
            Some(14.0),
            Better::Higher,
        );
        // Peak 14 → step 5 → ticks 0, 5, 10, 15.
        let ticks: Vec<&str> = c.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(ticks, ["0", "5", "10", "15"]);
        assert_eq!(c.ticks[0].y, c.bottom);
        assert_eq!(c.ticks[3].y, c.top);
        assert!(c
            .bars
            .iter()
            .all(|b| b.y >= c.top && b.y + b.h <= c.bottom + 0.11));
        assert_eq!(c.bars[1].value, None);
        assert!(c.bars[0].over && c.bars[2].over && c.bars[3].over);
        assert!(!c.empty);
        let t = c.target.unwrap();
        assert!(t.y > c.top && t.y < c.bottom);
        let none = bars(
            "t",
            "n",
            &labels,
            &[None; 4],
            &|v| format!("{v}"),
            None,
            Better::Neither,
        );
        assert!(none.empty && none.target.is_none());
    }
}
