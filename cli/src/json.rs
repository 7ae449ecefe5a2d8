//! Values on the command line: JSON in, JSON out, with tagged objects for the MessagePack types
//! JSON lacks. docs/CLI.md ("Values") is the user-facing description; [`CONVENTIONS`] is the
//! same text for `--help`.
//!
//! Printing is lossless: `xproc get` output fed back to `xproc put` yields the same MessagePack
//! value (maps keep their order, floats stay floats, f32 stays f32). The one normalisation is
//! that timestamps are re-encoded in their shortest form.

use std::fmt::Write as _;

use rmpv::Value;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// The conventions, for `--help`.
pub const CONVENTIONS: &str = "\
VALUES (JSON on the command line and in output):
  null, true, false, strings, arrays, objects  as in JSON (objects keep their key order)
  integers      exact over the whole i64 and u64 ranges (18446744073709551615 prints exactly)
  floats        a number with a fraction or exponent (1.0, 2e-3) is a float 64
  {\"$f32\": 1.5}                         a float 32
  {\"$float\": \"NaN\"|\"inf\"|\"-inf\"}  NaN and infinities ($f32 accepts them too)
  {\"$bin\": \"00ff10\"}                  bytes (MessagePack bin), as hex
  {\"$map\": [[1, \"a\"], [[2], \"b\"]]}  a map whose keys are not all strings
  {\"$timestamp\": \"2024-05-01T12:00:00.25Z\"} or {\"$timestamp\": [secs, nanos]}
                                        the timestamp extension (type -1), UTC
  {\"$ext\": [5, \"0102\"]}               any other extension: type and hex data
  An object with one key that is one of these tags is read as the tag; output shows a real
  map with such a key through $map, so printed values always read back unchanged.";

const TAGS: &[&str] = &["$bin", "$map", "$float", "$f32", "$ext", "$timestamp"];

/// Parses JSON text into a MessagePack value, applying the tags.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = de.deserialize_any(JsonVisitor).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(v)
}

/// Encodes a value as MessagePack bytes.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, v).expect("writing to a Vec cannot fail");
    out
}

/// Decodes MessagePack bytes (one value) for printing.
pub fn decode(mut bytes: &[u8]) -> Result<Value, String> {
    rmpv::decode::read_value(&mut bytes).map_err(|e| format!("undecodable value: {e}"))
}

/// Prints a value as one line of JSON, with the tags.
pub fn print(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Boolean(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Value::F64(n))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::from(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Json(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, Json(v))) = map.next_entry::<String, Json>()? {
            entries.push((k, v));
        }
        if let [(tag, inner)] = &entries[..] {
            if TAGS.contains(&tag.as_str()) {
                return untag(tag, inner).map_err(de::Error::custom);
            }
        }
        Ok(Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        ))
    }
}

/// One JSON value, deserialised with [`JsonVisitor`] (used for nested values).
struct Json(Value);

impl<'de> de::Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor).map(Json)
    }
}

/// Reads a tagged object's content.
fn untag(tag: &str, v: &Value) -> Result<Value, String> {
    match tag {
        "$bin" => Ok(Value::Binary(hex_decode(str_of(tag, v)?)?)),
        "$map" => {
            let pairs = v
                .as_array()
                .ok_or("$map takes an array of [key, value] pairs")?;
            pairs
                .iter()
                .map(|p| match p.as_array().map(|a| &a[..]) {
                    Some([k, v]) => Ok((k.clone(), v.clone())),
                    _ => Err(format!(
                        "$map entry {} is not a [key, value] pair",
                        print(p)
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Value::Map)
        }
        "$float" => float_of(tag, v).map(Value::F64),
        "$f32" => float_of(tag, v).map(|f| Value::F32(f as f32)),
        "$ext" => match v.as_array().map(|a| &a[..]) {
            Some([ty, data]) => {
                let ty = ty
                    .as_i64()
                    .and_then(|t| i8::try_from(t).ok())
                    .ok_or("$ext type must be an integer in -128..=127")?;
                Ok(Value::Ext(ty, hex_decode(str_of(tag, data)?)?))
            }
            _ => Err("$ext takes [type, \"hex\"]".into()),
        },
        "$timestamp" => {
            let (secs, nanos) = match v {
                Value::String(s) => parse_rfc3339(s.as_str().unwrap_or(""))?,
                Value::Array(a) => match &a[..] {
                    [s, n] => (
                        s.as_i64().ok_or("$timestamp seconds must be an integer")?,
                        n.as_u64()
                            .and_then(|n| u32::try_from(n).ok())
                            .filter(|n| *n < 1_000_000_000)
                            .ok_or("$timestamp nanoseconds must be in 0..1000000000")?,
                    ),
                    _ => return Err("$timestamp takes \"RFC 3339\" or [secs, nanos]".into()),
                },
                _ => return Err("$timestamp takes \"RFC 3339\" or [secs, nanos]".into()),
            };
            Ok(Value::Ext(-1, timestamp_bytes(secs, nanos)))
        }
        _ => unreachable!("TAGS lists every tag"),
    }
}

fn str_of<'v>(tag: &str, v: &'v Value) -> Result<&'v str, String> {
    v.as_str().ok_or_else(|| format!("{tag} takes a string"))
}

fn float_of(tag: &str, v: &Value) -> Result<f64, String> {
    match v {
        Value::String(s) => match s.as_str().unwrap_or("") {
            "NaN" | "nan" => Ok(f64::NAN),
            "inf" | "+inf" | "Infinity" => Ok(f64::INFINITY),
            "-inf" | "-Infinity" => Ok(f64::NEG_INFINITY),
            other => Err(format!(
                "{tag} takes a number, \"NaN\", \"inf\" or \"-inf\", not {other:?}"
            )),
        },
        Value::F64(f) => Ok(*f),
        Value::Integer(i) => i.as_f64().ok_or_else(|| format!("{tag}: bad number")),
        _ => Err(format!(
            "{tag} takes a number, \"NaN\", \"inf\" or \"-inf\""
        )),
    }
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(n), _) => write!(out, "{n}").unwrap(),
            (None, Some(n)) => write!(out, "{n}").unwrap(),
            (None, None) => unreachable!("an integer is an i64 or a u64"),
        },
        Value::F64(f) => {
            if f.is_finite() {
                // Debug always shows a fraction or an exponent, so it reads back as a float.
                write!(out, "{f:?}").unwrap();
            } else {
                write!(out, "{{\"$float\":\"{}\"}}", non_finite(*f)).unwrap();
            }
        }
        Value::F32(f) => {
            if f.is_finite() {
                write!(out, "{{\"$f32\":{f:?}}}").unwrap();
            } else {
                write!(out, "{{\"$f32\":\"{}\"}}", non_finite(*f as f64)).unwrap();
            }
        }
        Value::String(s) => write_str(
            out,
            &s.as_str().map_or_else(
                || String::from_utf8_lossy(s.as_bytes()).into_owned(),
                str::to_string,
            ),
        ),
        Value::Binary(b) => write!(out, "{{\"$bin\":\"{}\"}}", hex_encode(b)).unwrap(),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            if is_plain_object(entries) {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, k.as_str().unwrap_or_default());
                    out.push(':');
                    write_value(out, v);
                }
                out.push('}');
            } else {
                out.push_str("{\"$map\":[");
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('[');
                    write_value(out, k);
                    out.push(',');
                    write_value(out, v);
                    out.push(']');
                }
                out.push_str("]}");
            }
        }
        Value::Ext(-1, data) => match timestamp_of(data) {
            Some((secs, nanos)) => match format_rfc3339(secs, nanos) {
                Some(text) => write!(out, "{{\"$timestamp\":\"{text}\"}}").unwrap(),
                None => write!(out, "{{\"$timestamp\":[{secs},{nanos}]}}").unwrap(),
            },
            None => write!(out, "{{\"$ext\":[-1,\"{}\"]}}", hex_encode(data)).unwrap(),
        },
        Value::Ext(ty, data) => {
            write!(out, "{{\"$ext\":[{ty},\"{}\"]}}", hex_encode(data)).unwrap()
        }
    }
}

/// Whether a map can print as a JSON object and read back the same: string keys, no
/// duplicates, and not a lone key that reads as a tag.
fn is_plain_object(entries: &[(Value, Value)]) -> bool {
    let mut keys = Vec::with_capacity(entries.len());
    for (k, _) in entries {
        match k.as_str() {
            Some(k) => keys.push(k),
            None => return false,
        }
    }
    if let [only] = &keys[..] {
        if TAGS.contains(only) {
            return false;
        }
    }
    keys.sort_unstable();
    keys.windows(2).all(|w| w[0] != w[1])
}

fn write_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a str always serialises"));
}

fn non_finite(f: f64) -> &'static str {
    if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(s, "{b:02x}").unwrap();
    }
    s
}

fn hex_decode(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("hex {s:?} has an odd number of digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("{s:?} is not hex"))
        })
        .collect()
}

// ---- timestamps (MessagePack extension -1) ----

/// Seconds and nanoseconds of a timestamp extension's data (4, 8 or 12 bytes).
fn timestamp_of(d: &[u8]) -> Option<(i64, u32)> {
    match d.len() {
        4 => Some((u32::from_be_bytes(d.try_into().ok()?) as i64, 0)),
        8 => {
            let x = u64::from_be_bytes(d.try_into().ok()?);
            Some(((x & 0x3_ffff_ffff) as i64, (x >> 34) as u32))
        }
        12 => Some((
            i64::from_be_bytes(d[4..12].try_into().ok()?),
            u32::from_be_bytes(d[..4].try_into().ok()?),
        )),
        _ => None,
    }
}

/// The shortest timestamp encoding for (secs, nanos), as the MessagePack spec lays out.
fn timestamp_bytes(secs: i64, nanos: u32) -> Vec<u8> {
    if secs >> 34 == 0 {
        let x = ((nanos as u64) << 34) | secs as u64;
        if x >> 32 == 0 {
            (x as u32).to_be_bytes().to_vec()
        } else {
            x.to_be_bytes().to_vec()
        }
    } else {
        let mut v = nanos.to_be_bytes().to_vec();
        v.extend_from_slice(&secs.to_be_bytes());
        v
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + if m <= 2 { 1 } else { 0 }, m, d)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, or `None` outside years 0000–9999.
fn format_rfc3339(secs: i64, nanos: u32) -> Option<String> {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    if !(0..=9999).contains(&y) {
        return None;
    }
    let t = secs.rem_euclid(86_400);
    let mut s = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        t / 3600,
        t / 60 % 60,
        t % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    Some(s)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
fn parse_rfc3339(s: &str) -> Result<(i64, u32), String> {
    let bad = || format!("{s:?} is not an RFC 3339 time such as 2024-05-01T12:00:00Z");
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = s.get(r).ok_or_else(bad)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return Err(bad());
        }
        nanos = format!("{:0<9}", &frac[..digits])
            .parse()
            .map_err(|_| bad())?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let h: i64 = rest[1..3].parse().map_err(|_| bad())?;
            let m: i64 = rest[4..6].parse().map_err(|_| bad())?;
            let o = h * 3600 + m * 60;
            if rest.starts_with('-') {
                -o
            } else {
                o
            }
        }
        _ => return Err(bad()),
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Ok((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let v = parse(text).unwrap();
        let bytes = encode(&v);
        print(&decode(&bytes).unwrap())
    }

    #[test]
    fn plain_json_round_trips_in_order() {
        for t in [
            r#"null"#,
            r#"true"#,
            r#"[1,-2,"x",1.5,1.0,1e20]"#,
            r#"{"b":1,"a":{"z":[],"y":null}}"#,
            r#""quote \" and \u00e9""#,
        ] {
            let expect =
                serde_json::to_string(&serde_json::from_str::<serde_json::Value>(t).unwrap())
                    .unwrap();
            let got = round_trip(t);
            // Same JSON value, and the key order of the input is kept.
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&got).unwrap(),
                serde_json::from_str::<serde_json::Value>(&expect).unwrap()
            );
        }
        assert_eq!(round_trip(r#"{"b":1,"a":2}"#), r#"{"b":1,"a":2}"#);
        assert_eq!(round_trip("1.0"), "1.0");
        assert_eq!(round_trip("1"), "1");
    }

    #[test]
    fn integers_are_exact_over_both_ranges() {
        assert_eq!(round_trip("18446744073709551615"), "18446744073709551615");
        assert_eq!(round_trip("-9223372036854775808"), "-9223372036854775808");
        assert_eq!(round_trip("9007199254740993"), "9007199254740993");
        assert_eq!(encode(&parse("200").unwrap()), vec![0xcc, 200]);
    }

    #[test]
    fn tags_read_and_print() {
        for t in [
            r#"{"$bin":"00ff10"}"#,
            r#"{"$f32":1.5}"#,
            r#"{"$float":"NaN"}"#,
            r#"{"$float":"-inf"}"#,
            r#"{"$f32":"inf"}"#,
            r#"{"$map":[[1,"a"],[[2],"b"]]}"#,
            r#"{"$ext":[5,"0102"]}"#,
            r#"{"$timestamp":"2024-05-01T12:00:00.25Z"}"#,
            r#"{"$timestamp":"1970-01-01T00:00:00Z"}"#,
            r#"{"$timestamp":"2514-05-30T01:53:04.000000001Z"}"#,
            r#"{"$timestamp":[-62167219201,0]}"#,
        ] {
            assert_eq!(round_trip(t), t);
        }
        assert_eq!(
            parse(r#"{"$bin":"00FF"}"#).unwrap(),
            Value::Binary(vec![0, 255])
        );
        assert_eq!(parse(r#"{"$float":2}"#).unwrap(), Value::F64(2.0));
    }

    #[test]
    fn maps_that_look_like_tags_are_escaped() {
        let v = Value::Map(vec![(Value::from("$bin"), Value::from("not hex"))]);
        let text = print(&v);
        assert_eq!(text, r#"{"$map":[["$bin","not hex"]]}"#);
        assert_eq!(parse(&text).unwrap(), v);
        // Duplicate keys cannot be a JSON object either.
        let v = Value::Map(vec![
            (Value::from("a"), Value::from(1)),
            (Value::from("a"), Value::from(2)),
        ]);
        assert_eq!(parse(&print(&v)).unwrap(), v);
        // Two keys, one of them a tag name: an ordinary object.
        assert_eq!(
            round_trip(r#"{"$bin":"x","other":1}"#),
            r#"{"$bin":"x","other":1}"#
        );
    }

    #[test]
    fn timestamps_use_the_spec_encodings() {
        assert_eq!(timestamp_bytes(1, 0), vec![0, 0, 0, 1]);
        assert_eq!(timestamp_bytes(1, 1).len(), 8);
        assert_eq!(timestamp_bytes(-1, 0).len(), 12);
        assert_eq!(timestamp_bytes(1 << 34, 0).len(), 12);
        for (secs, nanos) in [
            (0, 0),
            (1_714_564_800, 250_000_000),
            (-1, 999_999_999),
            (1 << 40, 7),
        ] {
            assert_eq!(
                timestamp_of(&timestamp_bytes(secs, nanos)),
                Some((secs, nanos))
            );
        }
        assert_eq!(
            parse_rfc3339("2024-05-01T14:00:00+02:00").unwrap(),
            parse_rfc3339("2024-05-01T12:00:00Z").unwrap()
        );
        assert_eq!(
            parse_rfc3339("2024-05-01T12:00:00Z").unwrap().0,
            1_714_564_800
        );
        assert!(parse_rfc3339("2024-13-01T12:00:00Z").is_err());
        assert!(parse_rfc3339("yesterday").is_err());
        assert!(parse_rfc3339("2024-05-01T12:00:00.Z").is_err());
    }

    #[test]
    fn bad_input_says_why() {
        assert!(parse("{").is_err());
        assert!(parse("1 2").is_err());
        assert!(parse(r#"{"$bin":"abc"}"#).unwrap_err().contains("odd"));
        assert!(parse(r#"{"$ext":[300,""]}"#).unwrap_err().contains("-128"));
        assert!(parse(r#"{"$map":[[1]]}"#).unwrap_err().contains("pair"));
    }
}
