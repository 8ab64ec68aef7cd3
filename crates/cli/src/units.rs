//! Human-readable sizes and rates.

/// `1536` → `1.5 KiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    // 1023.96 KiB would print as `1024.0 KiB`: such a value moves up too.
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {name}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(super::bytes(0), "0 B");
        assert_eq!(super::bytes(1536), "1.5 KiB");
        assert_eq!(super::bytes(1 << 30), "1.0 GiB");
        assert_eq!(super::bytes(1023), "1023 B");
        assert_eq!(super::bytes((1 << 20) - 1), "1.0 MiB");
        assert_eq!(super::bytes(1_046_000), "1021.5 KiB");
    }
}

/// Unix seconds as a UTC date and time, `2026-11-22 08:44:34 UTC`.
pub fn utc_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod date_tests {
    #[test]
    fn dates() {
        assert_eq!(super::utc_date(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc_date(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(super::utc_date(1_795_337_140), "2026-11-22 08:45:40 UTC");
    }
}

/// Parses a size like `262144`, `256K`, `1M`, `1.5M` or `1MiB` (binary
/// units; a fraction is rounded down to whole bytes).
pub fn parse_size(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => anyhow::bail!("unknown size unit {other:?}"),
    };
    let not_a_size = || anyhow::anyhow!("{s:?} is not a size");
    if let Ok(n) = number.parse::<u64>() {
        return n
            .checked_mul(1 << shift)
            .ok_or_else(|| anyhow::anyhow!("{s:?} is too large"));
    }
    // Only digits and one dot reach here, so no sign, exponent or `inf`.
    if number.is_empty() || number == "." || number.matches('.').count() != 1 {
        return Err(not_a_size());
    }
    let value: f64 = number.parse().map_err(|_| not_a_size())?;
    let bytes = value * f64::from(1u32 << shift);
    if bytes >= u64::MAX as f64 {
        anyhow::bail!("{s:?} is too large");
    }
    Ok(bytes as u64)
}

/// A rate in bytes per second, `339.5 MiB/s`.
pub fn rate(bytes_per_sec: f64) -> String {
    format!("{}/s", bytes(bytes_per_sec.max(0.0) as u64))
}

/// `1 file`, `2 files`: `count` and `noun`, plural unless `count` is 1.
pub fn count(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// A duration for an ETA: `45s`, `3m 05s`, `2h 10m`, `3d 4h`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        3600..86_400 => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

#[cfg(test)]
mod size_tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("262144").unwrap(), 262_144);
        assert_eq!(super::parse_size("256K").unwrap(), 262_144);
        assert_eq!(super::parse_size("1MiB").unwrap(), 1 << 20);
        assert!(super::parse_size("1X").is_err());
        assert!(super::parse_size("").is_err());
        assert_eq!(super::parse_size("1.5M").unwrap(), 3 << 19);
        assert_eq!(super::parse_size("0.5k").unwrap(), 512);
        assert_eq!(super::parse_size(".5K").unwrap(), 512);
        assert!(super::parse_size("1.2.3M").is_err());
        assert!(super::parse_size(".").is_err());
        assert!(super::parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn words_and_times() {
        assert_eq!(super::rate(339.5 * 1024.0 * 1024.0), "339.5 MiB/s");
        assert_eq!(super::count(1, "file"), "1 file");
        assert_eq!(super::count(0, "peer"), "0 peers");
        assert_eq!(super::duration(59), "59s");
        assert_eq!(super::duration(185), "3m 05s");
        assert_eq!(super::duration(7800), "2h 10m");
        assert_eq!(super::duration(90_000), "1d 1h");
    }
}
