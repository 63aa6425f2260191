//! A small SVG chart writer shared by the examples: line charts with several series, grouped bar
//! charts and labelled scatter plots, each with axis ticks, axis labels, a title and a legend.
//!
//! Deliberately generic and dependency-free: charts are plain data, [`LineChart::to_svg`] and
//! friends return the SVG text, every piece of user text is XML-escaped, and non-finite values are
//! skipped rather than written as `NaN` coordinates.
//!
//! ```
//! use poq_app::svg::{LineChart, Series};
//! let chart = LineChart {
//!     title: "reward vs β".into(),
//!     x_label: "β".into(),
//!     y_label: "mean reward".into(),
//!     series: vec![Series { name: "Llama-3.2-3B".into(), points: vec![(0.0, 0.7), (1.0, 0.6)] }],
//! };
//! let svg = chart.to_svg();
//! assert!(svg.starts_with("<svg") && svg.contains("Llama-3.2-3B"));
//! ```

use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 10] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// One named series of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Points, drawn in order.
    pub points: Vec<(f64, f64)>,
}

/// Several series as lines with markers.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// The series.
    pub series: Vec<Series>,
}

/// Bars grouped by category, one bar per series in each group.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Title above the plot.
    pub title: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Category names along the x axis.
    pub groups: Vec<String>,
    /// (series name, one value per group).
    pub series: Vec<(String, Vec<f64>)>,
    /// Group indexes before which a dashed vertical line separates the groups (e.g. inference
    /// nodes from evaluators on one axis).
    pub dividers: Vec<usize>,
}

/// Labelled points.
#[derive(Debug, Clone, PartialEq)]
pub struct Scatter {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// (label, x, y).
    pub points: Vec<(String, f64, f64)>,
}

/// About five round tick values covering [lo, hi].
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| span / s <= 6.0).unwrap_or(10.0 * mag);
    // Multiples of the step (not a running sum, which drifts).
    let (first, last) = ((lo / step - 1e-9).ceil() as i64, (hi / step + 1e-9).floor() as i64);
    (first..=last).map(|i| i as f64 * step).collect()
}

/// A finite range with some room; degenerate or empty input gets a unit range.
fn range(values: impl Iterator<Item = f64>, include_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if include_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    // One value, or values that differ only far past the tick precision (one model's latency):
    // a range around them of ±5% of their size, not a magnified sliver of rounding.
    let size = lo.abs().max(hi.abs());
    if hi - lo < 1e-12 || hi - lo < 1e-3 * size {
        let mid = (lo + hi) / 2.0;
        let half = if size < 1e-12 { 0.5 } else { 0.05 * size };
        return if include_zero { ((mid - half).min(0.0), (mid + half).max(0.0)) } else { (mid - half, mid + half) };
    }
    let pad = 0.05 * (hi - lo);
    (lo - if lo == 0.0 && include_zero { 0.0 } else { pad }, hi + pad)
}

/// About how wide `text` is at the charts' 12 px sans-serif (no font metrics at hand: the
/// viewer lays the text out).
fn text_width(text: &str) -> f64 {
    6.8 * text.chars().count() as f64
}

/// `name` in lines of at most `width` pixels, broken after `-`, `_`, `.`, `/` or a space, at
/// most three lines, the last one cut with `…` if the name does not fit.
fn wrap_label(name: &str, width: f64) -> Vec<String> {
    const LINES: usize = 3;
    let mut pieces = Vec::new();
    let mut piece = String::new();
    for c in name.chars() {
        piece.push(c);
        if matches!(c, '-' | '_' | '.' | '/' | ' ' | '@') {
            pieces.push(std::mem::take(&mut piece));
        }
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    let mut lines: Vec<String> = Vec::new();
    for piece in pieces {
        match lines.last_mut() {
            Some(line) if text_width(line) + text_width(&piece) <= width => line.push_str(&piece),
            _ => lines.push(piece),
        }
    }
    if lines.len() > LINES {
        let rest: String = lines.drain(LINES - 1..).collect();
        lines.push(rest);
    }
    // A line still too wide (one long piece, or the gathered rest) is cut.
    let fit = ((width / 6.8).floor() as usize).max(2);
    for line in &mut lines {
        if line.chars().count() > fit {
            *line = line.chars().take(fit - 1).chain(['…']).collect();
        }
    }
    lines
}

/// A bar's value above it: three significant decimals at most.
fn fmt_value(v: f64) -> String {
    if v.abs() >= 100.0 { format!("{v:.0}") } else { fmt_tick(v) }
}

fn fmt_tick(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Plot area and scales.
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
    svg: String,
}

impl Frame {
    fn new(title: &str, x_label: &str, y_label: &str, x: (f64, f64), y: (f64, f64), x_ticks: bool) -> Frame {
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
        );
        let _ = write!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
        let _ = write!(
            svg,
            r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
            (LEFT + W - RIGHT) / 2.0,
            escape(title)
        );
        let f = Frame { x, y, svg };
        let mut f = f;
        let (x0, y0, x1, y1) = (LEFT, H - BOTTOM, W - RIGHT, TOP);
        let _ = write!(f.svg, r#"<path d="M{x0} {y1}V{y0}H{x1}" fill="none" stroke="black"/>"#);
        for t in ticks(y.0, y.1) {
            let py = f.py(t);
            let _ = write!(
                f.svg,
                r##"<path d="M{x0} {py:.1}H{x1}" stroke="#e0e0e0"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                x0 - 6.0,
                py + 4.0,
                fmt_tick(t)
            );
        }
        if x_ticks {
            for t in ticks(x.0, x.1) {
                let px = f.px(t);
                let _ = write!(
                    f.svg,
                    r#"<path d="M{px:.1} {y0}v5" stroke="black"/><text x="{px:.1}" y="{}" text-anchor="middle">{}</text>"#,
                    y0 + 18.0,
                    fmt_tick(t)
                );
            }
        }
        let _ = write!(
            f.svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            (x0 + x1) / 2.0,
            H - 14.0,
            escape(x_label)
        );
        let _ = write!(
            f.svg,
            r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#,
            (y0 + y1) / 2.0,
            (y0 + y1) / 2.0,
            escape(y_label)
        );
        f
    }

    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (W - RIGHT - LEFT)
    }

    fn py(&self, y: f64) -> f64 {
        H - BOTTOM - (y - self.y.0) / (self.y.1 - self.y.0) * (H - BOTTOM - TOP)
    }

    fn legend(&mut self, names: &[&str]) {
        for (i, name) in names.iter().enumerate() {
            let y = TOP + 10.0 + 18.0 * i as f64;
            let x = W - RIGHT + 14.0;
            let _ = write!(
                self.svg,
                r#"<rect x="{x}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#,
                y - 10.0,
                COLORS[i % COLORS.len()],
                x + 18.0,
                y,
                escape(name)
            );
        }
    }

    fn finish(mut self) -> String {
        self.svg.push_str("</svg>\n");
        self.svg
    }
}

impl LineChart {
    /// Renders the chart.
    pub fn to_svg(&self) -> String {
        let pts = || self.series.iter().flat_map(|s| s.points.iter());
        let mut f = Frame::new(
            &self.title,
            &self.x_label,
            &self.y_label,
            range(pts().map(|p| p.0), false),
            range(pts().map(|p| p.1), false),
            true,
        );
        for (i, s) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let finite: Vec<(f64, f64)> =
                s.points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
            let d: Vec<String> = finite
                .iter()
                .enumerate()
                .map(|(j, &(x, y))| format!("{}{:.1} {:.1}", if j == 0 { "M" } else { "L" }, f.px(x), f.py(y)))
                .collect();
            let _ = write!(f.svg, r#"<path d="{}" fill="none" stroke="{color}" stroke-width="2"/>"#, d.join(""));
            for &(x, y) in &finite {
                let _ = write!(
                    f.svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{}: ({x}, {y})</title></circle>"#,
                    f.px(x),
                    f.py(y),
                    escape(&s.name)
                );
            }
        }
        let names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        f.legend(&names);
        f.finish()
    }
}

impl BarChart {
    /// Renders the chart (the y range always includes 0).
    pub fn to_svg(&self) -> String {
        let y = range(self.series.iter().flat_map(|s| s.1.iter().copied()), true);
        let n = self.groups.len().max(1) as f64;
        let mut f = Frame::new(&self.title, "", &self.y_label, (0.0, n), y, false);
        let group_w = (W - RIGHT - LEFT) / n;
        let bar_w = 0.8 * group_w / self.series.len().max(1) as f64;
        let zero = f.py(0.0);
        for (g, name) in self.groups.iter().enumerate() {
            let gx = LEFT + group_w * g as f64;
            // Names wrapped to the group's width (at most three lines), the whole name on hover.
            let _ = write!(f.svg, r#"<text text-anchor="middle"><title>{}</title>"#, escape(name));
            for (l, line) in wrap_label(name, 0.95 * group_w).iter().enumerate() {
                let _ = write!(
                    f.svg,
                    r#"<tspan x="{:.1}" y="{:.1}">{}</tspan>"#,
                    gx + group_w / 2.0,
                    H - BOTTOM + 16.0 + 13.0 * l as f64,
                    escape(line)
                );
            }
            f.svg.push_str("</text>");
            if self.dividers.contains(&g) && g > 0 {
                let _ = write!(
                    f.svg,
                    r##"<path d="M{gx:.1} {TOP}V{}" stroke="#555" stroke-dasharray="4 3"/>"##,
                    H - BOTTOM + 44.0
                );
            }
            for (i, (sname, values)) in self.series.iter().enumerate() {
                let Some(&v) = values.get(g) else { continue };
                if !v.is_finite() {
                    continue;
                }
                // A value of exactly 0 still draws a visible sliver, so it does not read as missing.
                let (top, h) = (f.py(v).min(zero), (f.py(v) - zero).abs());
                let (top, h) = if h < 2.0 { (zero - 1.0, 2.0) } else { (top, h) };
                let x = gx + 0.1 * group_w + bar_w * i as f64;
                let color = COLORS[i % COLORS.len()];
                let _ = write!(
                    f.svg,
                    r#"<rect x="{x:.1}" y="{top:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{color}"><title>{} / {}: {v}</title></rect>"#,
                    escape(name),
                    escape(sname)
                );
                // Values are written over bars wide enough to hold them (about 5.5 px a character at
                // font size 10); narrower bars keep them on hover only, or the labels overlap.
                if bar_w < 5.5 * fmt_value(v).len() as f64 {
                    continue;
                }
                let label_y = if v < 0.0 { top + h + 12.0 } else { top - 4.0 };
                let _ = write!(
                    f.svg,
                    r#"<text x="{:.1}" y="{label_y:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                    x + bar_w / 2.0,
                    fmt_value(v)
                );
            }
        }
        let names: Vec<&str> = self.series.iter().map(|s| s.0.as_str()).collect();
        f.legend(&names);
        f.finish()
    }
}

impl Scatter {
    /// Renders the chart; each point is labelled next to its marker.
    pub fn to_svg(&self) -> String {
        let ok: Vec<&(String, f64, f64)> = self.points.iter().filter(|p| p.1.is_finite() && p.2.is_finite()).collect();
        let mut f = Frame::new(
            &self.title,
            &self.x_label,
            &self.y_label,
            range(ok.iter().map(|p| p.1), false),
            range(ok.iter().map(|p| p.2), false),
            true,
        );
        for (i, (label, x, y)) in ok.iter().map(|p| (&p.0, p.1, p.2)).enumerate() {
            let (px, py) = (f.px(x), f.py(y));
            // Labels go right of their marker unless they would run off the picture.
            let (lx, anchor) =
                if px + 7.0 + text_width(label) > W - 4.0 { (px - 7.0, "end") } else { (px + 7.0, "start") };
            let _ = write!(
                f.svg,
                r#"<circle cx="{px:.1}" cy="{py:.1}" r="5" fill="{}"/><text x="{lx:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
                COLORS[i % COLORS.len()],
                py - 7.0,
                escape(label)
            );
        }
        f.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that tags nest and close properly (a tiny XML well-formedness check).
    fn well_formed(svg: &str) -> bool {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let Some(end) = rest[start..].find('>') else { return false };
            let tag = &rest[start + 1..start + end];
            rest = &rest[start + end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                if stack.pop().as_deref() != Some(name) {
                    return false;
                }
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().unwrap_or("").to_owned());
            }
            if tag.contains('<') || tag.contains("NaN") {
                return false;
            }
        }
        stack.is_empty() && !rest.contains('<')
    }

    #[test]
    fn charts_are_well_formed_and_carry_their_data() {
        let line = LineChart {
            title: "a <b> & \"c\"".into(),
            x_label: "β".into(),
            y_label: "R".into(),
            series: vec![
                Series { name: "one".into(), points: vec![(0.0, 1.0), (0.5, f64::NAN), (1.0, 2.0)] },
                Series { name: "two&".into(), points: vec![(0.0, -1.0), (1.0, 0.25)] },
            ],
        }
        .to_svg();
        assert!(well_formed(&line), "{line}");
        assert!(line.contains("a &lt;b&gt; &amp; &quot;c&quot;") && line.contains("two&amp;"));
        assert!(line.contains("one: (1, 2)") && line.contains("two&amp;: (1, 0.25)"));
        let bars = BarChart {
            title: "t".into(),
            y_label: "y".into(),
            groups: vec!["g1".into(), "g2".into()],
            series: vec![("s".into(), vec![0.5, -0.5])],
            dividers: vec![1],
        }
        .to_svg();
        assert!(well_formed(&bars) && bars.contains("g2 / s: -0.5"), "{bars}");
        let sc = Scatter {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            points: vec![("Phi-3 <mini>".into(), 1.0, 2.0)],
        }
        .to_svg();
        assert!(well_formed(&sc) && sc.contains("Phi-3 &lt;mini&gt;"), "{sc}");
        assert!(!well_formed("<svg><g></svg>"));
    }

    #[test]
    fn bars_stay_readable_names_wrap_zeros_show_and_pools_divide() {
        let groups = ["qwen2.5-coder-0.5b-instruct-q4_k_m", "SmolLM2-135M-Instruct (Q4_1)", "all-MiniLM-L6-v2", "m"];
        let chart = BarChart {
            title: "t".into(),
            y_label: "y".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            series: vec![("s".into(), vec![0.2, 1.0, 0.0, 1.0])],
            dividers: vec![2],
        };
        let svg = chart.to_svg();
        assert!(well_formed(&svg), "{svg}");
        // Every line of every name fits its group's width: neighbours cannot overlap.
        let group_w = (W - RIGHT - LEFT) / groups.len() as f64;
        for g in groups {
            let lines = wrap_label(g, 0.95 * group_w);
            assert!(lines.len() <= 3 && lines.iter().all(|l| text_width(l) <= 0.95 * group_w), "{g}: {lines:?}");
        }
        assert_eq!(
            wrap_label("qwen2.5-coder-0.5b-instruct-q4_k_m", 150.0).concat(),
            "qwen2.5-coder-0.5b-instruct-q4_k_m"
        );
        assert_eq!(wrap_label("m", 150.0), ["m"]);
        // The zero bar is drawn with a visible height and labelled 0.
        assert!(svg.contains(r##"height="2.0" fill="#1f77b4"><title>all-MiniLM-L6-v2 / s: 0</title>"##), "{svg}");
        assert!(svg.contains(">0</text>"));
        // One divider, before the third group.
        assert_eq!(svg.matches("stroke-dasharray").count(), 1);
    }

    #[test]
    fn crowded_bars_keep_their_values_on_hover_only() {
        let groups: Vec<String> = (0..9).map(|g| format!("class{g}@cpu")).collect();
        let series: Vec<(String, Vec<f64>)> = (0..5).map(|s| (format!("p{s}"), vec![0.123; 9])).collect();
        let svg = BarChart { title: "t".into(), y_label: "y".into(), groups: groups.clone(), series, dividers: vec![] }
            .to_svg();
        assert!(well_formed(&svg) && svg.contains("class8@cpu / p4: 0.123"), "{svg}");
        assert!(!svg.contains(">0.123</text>"), "45 bars of 9 px cannot carry their values");
        let few = BarChart {
            title: "t".into(),
            y_label: "y".into(),
            groups: groups[..2].to_vec(),
            series: vec![("s".into(), vec![0.123, 0.5])],
            dividers: vec![],
        }
        .to_svg();
        assert!(few.contains(">0.123</text>"), "wide bars are labelled");
    }

    #[test]
    fn one_point_gets_a_readable_range_and_edge_labels_stay_inside() {
        let (lo, hi) = range([4587.8, 4588.6].into_iter(), false);
        assert!(lo < 4400.0 && hi > 4700.0, "({lo}, {hi})");
        assert!(ticks(lo, hi).iter().all(|t| t.fract() == 0.0));
        let sc = Scatter {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            points: vec![("a".into(), 1.0, 1.0), ("qwen2.5-coder-0.5b-instruct-q4_k_m".into(), 2.0, 2.0)],
        }
        .to_svg();
        assert!(sc.contains(r#"text-anchor="end">qwen2.5"#), "{sc}");
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let t = ticks(0.0, 1.0);
        assert_eq!(t.len(), 6);
        assert!(t.iter().zip([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]).all(|(a, b)| (a - b).abs() < 1e-12), "{t:?}");
        assert_eq!(fmt_tick(t[3]), "0.6");
        let t = ticks(-0.37, 0.81);
        assert!(t.first().is_some_and(|&v| v >= -0.37) && t.last().is_some_and(|&v| v <= 0.81) && t.len() >= 3);
        assert_eq!(range(std::iter::empty(), false), (0.0, 1.0));
    }
}
