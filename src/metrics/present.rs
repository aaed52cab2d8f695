//! How the metrics read to people: durations in words and the rows of the metrics table that
//! `ledger metrics` prints as text and `ledger report` as HTML.

/// Human form of a duration in ms: `42s`, `3m 20s`, `5h 02m`, `2d 3h`.
pub fn human_ms(ms: i64) -> String {
    let s = ms / 1000;
    if ms < 1000 {
        format!("{ms}ms")
    } else if s < 60 {
        format!("{}.{}s", s, (ms % 1000) / 100)
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d {}h", s / 86_400, (s % 86_400) / 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_words() {
        assert_eq!(human_ms(999), "999ms");
        assert_eq!(human_ms(1_250), "1.2s");
        assert_eq!(human_ms(90_000), "1m 30s");
        assert_eq!(human_ms(3_720_000), "1h 02m");
        assert_eq!(human_ms(2 * 86_400_000 + 3 * 3_600_000), "2d 3h");
    }
}
