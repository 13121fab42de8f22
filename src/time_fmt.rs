//! The three time formats S3 speaks: ISO-8601 basic (`20130524T000000Z`, signatures),
//! ISO-8601 with milliseconds (`2013-05-24T00:00:00.000Z`, XML and events), and HTTP dates
//! (`Fri, 24 May 2013 00:00:00 GMT`, headers).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

fn to_offset(t: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(t)
}

fn from_ms(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

pub fn to_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

pub fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

pub fn amz_date(t: SystemTime) -> String {
    let f = format_description!("[year][month][day]T[hour][minute][second]Z");
    to_offset(t).format(f).unwrap_or_default()
}

pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let f = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(s, f)
        .ok()
        .map(|p| p.assume_utc().into())
}

/// `20130524` → midnight UTC of that day (the SigV4 credential scope date).
pub fn parse_amz_day(s: &str) -> Option<SystemTime> {
    let f = format_description!("[year][month][day]");
    time::Date::parse(s, f)
        .ok()
        .map(|d| d.midnight().assume_utc().into())
}

pub fn iso8601_ms(ms: i64) -> String {
    let f =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    to_offset(from_ms(ms)).format(f).unwrap_or_default()
}

pub fn http_date(ms: i64) -> String {
    httpdate::fmt_http_date(from_ms(ms))
}

/// Parses an HTTP date header value into epoch milliseconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    httpdate::parse_http_date(s.trim()).ok().map(to_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        let t = parse_amz_date("20130524T010203Z").unwrap();
        assert_eq!(amz_date(t), "20130524T010203Z");
        let ms = to_ms(t) + 45;
        assert_eq!(iso8601_ms(ms), "2013-05-24T01:02:03.045Z");
        assert_eq!(http_date(ms), "Fri, 24 May 2013 01:02:03 GMT");
        assert_eq!(
            parse_http_date("Fri, 24 May 2013 01:02:03 GMT"),
            Some(ms - 45)
        );
        assert_eq!(
            to_ms(parse_amz_day("20130524").unwrap()),
            to_ms(parse_amz_date("20130524T000000Z").unwrap())
        );
    }
}
