//! Fix times as tracker apps write them, read the way Traccar reads them: an integer
//! below 2^31 − 1 is seconds since the epoch, a larger one milliseconds; text with a
//! `T` is ISO 8601 with a zone (`2016-01-27T18:55:47Z`, `…T13:45:12.862+02:00`);
//! other text is `yyyy-MM-dd HH:mm:ss`, which Traccar reads in its server's zone and
//! this engine in UTC (it has no zone of its own).

/// Traccar's threshold between seconds and milliseconds (Java's `Integer.MAX_VALUE`).
const SECONDS_BELOW: u64 = 2_147_483_647;

/// Milliseconds since the Unix epoch, or why `text` is not a time.
pub fn parse(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let n: u64 = text
            .parse()
            .map_err(|_| "integer too large for a time".to_string())?;
        return if n < SECONDS_BELOW {
            Ok(n * 1000)
        } else {
            Ok(n)
        };
    }
    if text.contains('T') {
        iso8601(text)
    } else {
        let (date, time) = text
            .split_once(' ')
            .ok_or("not seconds, milliseconds, ISO 8601 or yyyy-MM-dd HH:mm:ss")?;
        civil_ms(date, time, 0)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM|±HHMM)`.
fn iso8601(text: &str) -> Result<u64, String> {
    let (date, rest) = text.split_once('T').ok_or("no T")?;
    let (time, offset_s) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else {
        let at = rest
            .rfind(['+', '-'])
            .ok_or("ISO 8601 time without a zone (Z or ±HH:MM)")?;
        (&rest[..at], zone_offset_s(&rest[at..])?)
    };
    civil_ms(date, time, offset_s)
}

/// `±HH:MM` or `±HHMM` → seconds east of UTC.
fn zone_offset_s(zone: &str) -> Result<i64, String> {
    let (sign, digits) = zone.split_at(1);
    let digits = digits.replace(':', "");
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad zone offset {zone:?}"));
    }
    let hours: i64 = digits[..2].parse().map_err(|_| "bad zone hours")?;
    let minutes: i64 = digits[2..].parse().map_err(|_| "bad zone minutes")?;
    if hours > 18 || minutes > 59 {
        return Err(format!("bad zone offset {zone:?}"));
    }
    let s = hours * 3600 + minutes * 60;
    Ok(if sign == "-" { -s } else { s })
}

/// A civil date and time of day at `offset_s` east of UTC → ms since the epoch.
fn civil_ms(date: &str, time: &str, offset_s: i64) -> Result<u64, String> {
    let mut d = date.split('-');
    let (Some(y), Some(m), Some(day), None) = (d.next(), d.next(), d.next(), d.next()) else {
        return Err(format!("bad date {date:?}"));
    };
    let year = number(y, 4, 4, "year")?;
    let month = number(m, 2, 2, "month")?;
    let day = number(day, 2, 2, "day")?;
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut t = clock.split(':');
    let (Some(h), Some(mi), Some(s), None) = (t.next(), t.next(), t.next(), t.next()) else {
        return Err(format!("bad time {time:?}"));
    };
    let (h, mi, s) = (
        number(h, 2, 2, "hour")?,
        number(mi, 2, 2, "minute")?,
        number(s, 2, 2, "second")?,
    );
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(format!("no such date {date:?}"));
    }
    if h > 23 || mi > 59 || s > 60 {
        return Err(format!("no such time {time:?}"));
    }
    let ms = if fraction.is_empty() {
        0
    } else {
        let digits = &fraction[..fraction.len().min(3)];
        number(fraction, 1, 9, "fraction")?;
        number(digits, 1, 3, "fraction")? * 10_i64.pow(3 - digits.len() as u32)
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_s;
    u64::try_from(secs * 1000 + ms).map_err(|_| "before 1970".to_string())
}

/// Digits only, `min..=max` of them.
fn number(text: &str, min: usize, max: usize, what: &str) -> Result<i64, String> {
    if text.len() < min || text.len() > max || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad {what} {text:?}"));
    }
    text.parse().map_err(|_| format!("bad {what} {text:?}"))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_every_form_traccar_reads() {
        // Seconds and milliseconds, split at 2^31 − 1 as Traccar does.
        assert_eq!(parse("1377177267"), Ok(1_377_177_267_000));
        assert_eq!(parse("1442068686579"), Ok(1_442_068_686_579));
        // ISO 8601 with a zone (the OsmAnd test's decoded `2016-01-27T18%3A55%3A47Z`).
        assert_eq!(parse("2016-01-27T18:55:47Z"), Ok(1_453_920_947_000));
        assert_eq!(parse("2025-06-15T13:45:12.862Z"), Ok(1_749_995_112_862));
        assert_eq!(
            parse("2025-06-15T15:45:12.862+02:00"),
            Ok(1_749_995_112_862)
        );
        assert_eq!(parse("2025-06-15T08:45:12.862-0500"), Ok(1_749_995_112_862));
        // `yyyy-MM-dd HH:mm:ss` (the test's `2014-06-04+09%3A10%3A11`), in UTC here.
        assert_eq!(parse("2014-06-04 09:10:11"), Ok(1_401_873_011_000));
        assert_eq!(parse("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "abc",
            "-5",
            "1.5",
            "2016-01-27T18:55:47",
            "2016-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2016-01-27T25:00:00Z",
            "2016-01-27T18:55Z",
            "1969-12-31T23:59:59Z",
            "99999999999999999999999",
            "2016-01-27T18:55:47+99:00",
            "2016-01-27T18:55:47.x1Z",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
