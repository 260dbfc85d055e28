use serde_json::json;

use super::*;

/// What `serde_json::Value` writes for the same text.
fn value_bytes(text: &str) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
    serde_json::to_vec(&value).expect("serializable")
}

fn json_bytes(text: &str) -> Vec<u8> {
    Json::parse_str(text).expect("valid JSON").to_json_vec()
}

#[test]
fn writes_what_value_writes() {
    for text in [
        r#"{"b":1,"a":[true,false,null],"c":{"z":"y","y":"z"}}"#,
        r#"{ "spaced" : [ 1 , 2.5 , -3 , 1e3 , 1.5e-7 , 18446744073709551615 , -9223372036854775808 ] }"#,
        r#"{"esc":"tab\tquote\"slash\/back\\nl\nuni\u00e9\u2028ctl\u0001 surrogate \ud83d\ude00"}"#,
        r#"{"dup":1,"other":2,"dup":3}"#,
        r#"{"a\u0062c":"key with an escape"}"#,
        r#"[0.1, 100000000000000000000, -0.0, 0, 123456789.123456789]"#,
        r#""just a string""#,
        "null",
        "{}",
        "[]",
    ] {
        assert_eq!(
            String::from_utf8_lossy(&json_bytes(text)),
            String::from_utf8_lossy(&value_bytes(text)),
            "{text}"
        );
    }
}

#[test]
fn strings_without_escapes_are_borrowed() {
    let text = r#"{"plain":"value","escaped":"line\nbreak"}"#;
    let parsed = Json::parse_str(text).expect("valid JSON");
    assert!(matches!(
        parsed["plain"],
        Json::String(Cow::Borrowed("value"))
    ));
    assert!(matches!(&parsed["escaped"], Json::String(Cow::Owned(s)) if s == "line\nbreak"));
}

#[test]
fn duplicate_keys_keep_the_first_place_and_the_last_value() {
    let many: String = (0..40)
        .map(|i| format!("\"k{i}\":{i},"))
        .collect::<String>();
    for text in [
        r#"{"a":1,"b":2,"a":3}"#.to_owned(),
        format!("{{{many}\"k3\":\"last\"}}"),
    ] {
        let parsed = Json::parse_str(&text).expect("valid JSON");
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(
            parsed.to_json_vec(),
            serde_json::to_vec(&value).expect("writes")
        );
        assert_eq!(parsed, value);
    }
}

#[test]
fn objects_keep_order_as_preserve_order_maps_do() {
    let mut object = Object::new();
    object.insert("a", Json::from(1));
    object.insert("b", Json::from(2));
    object.insert("c", Json::from(3));
    assert_eq!(object.insert("a", Json::from(4)), Some(Json::from(1)));
    assert_eq!(object.shift_remove("b"), Some(Json::from(2)));
    object.insert("b", Json::from(5));
    *object.entry("d").or_insert(Json::Null) = Json::from("new");
    *object.entry("a").or_insert(Json::Null) = Json::from(6);
    assert_eq!(
        Json::Object(object).to_string(),
        r#"{"a":6,"c":3,"b":5,"d":"new"}"#
    );
}

#[test]
fn reads_as_value_reads() {
    let text = r#"{"contexts":{"trace":{"trace_id":"abc"}},"list":[1,"two",{"a~b":{"c/d":true}}],"n":-5,"f":2.5}"#;
    let parsed = Json::parse_str(text).expect("valid JSON");
    let value: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
    for pointer in [
        "",
        "/contexts/trace/trace_id",
        "/list/1",
        "/list/2/a~0b/c~1d",
        "/list/01",
        "/list/9",
        "/missing",
        "nope",
    ] {
        assert_eq!(
            parsed.pointer(pointer).map(Json::to_value),
            value.pointer(pointer).cloned(),
            "{pointer}"
        );
    }
    assert_eq!(parsed["n"].as_i64(), Some(-5));
    assert_eq!(parsed["n"].as_u64(), None);
    assert_eq!(parsed["f"].as_f64(), Some(2.5));
    assert_eq!(parsed["list"][1], "two");
    assert!(parsed["list"][7].is_null());
    assert!(parsed["nothing"]["deeper"].is_null());
    assert_eq!(parsed, value);
    assert_eq!(Json::from(value.clone()), parsed);
    assert_eq!(parsed.to_value(), value);
}

#[test]
fn index_mut_builds_objects() {
    let mut event = Json::Null;
    event["sdk"]["name"] = Json::from("sentry.rust");
    event["sdk"]["version"] = Json::from("0.49.5");
    event["sdk"]["name"] = Json::from("sentry.python");
    assert_eq!(
        event,
        json!({"sdk": {"name": "sentry.python", "version": "0.49.5"}})
    );
}

#[test]
fn owned_copies_outlive_their_input() {
    let owned = {
        let text = String::from(r#"{"a":["b",{"c":"d"}]}"#);
        Json::parse_str(&text).expect("valid JSON").into_owned()
    };
    assert_eq!(owned, json!({"a": ["b", {"c": "d"}]}));
}

#[test]
fn too_deep_input_is_an_error_not_a_crash() {
    let deep = "[".repeat(100_000);
    assert!(Json::parse_str(&deep).is_err());
}

#[test]
fn extend_and_collect_insert_in_turn() {
    let mut object: Object<'_> = [("a", Json::from(1)), ("b", Json::from(2))]
        .into_iter()
        .collect();
    object.extend([
        ("c", Json::from(3)),
        ("a", Json::from(4)),
        ("c", Json::from(5)),
    ]);
    assert_eq!(object.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(Json::Object(object), json!({"a": 4, "b": 2, "c": 5}));

    let many: Object<'_> = (0..40)
        .chain(0..40)
        .map(|i| (i.to_string(), Json::from(i)))
        .collect();
    assert_eq!(many.len(), 40);
    assert_eq!(many.get_index(39).map(|(k, _)| k), Some("39"));
}

#[test]
fn objects_index_by_key() {
    let object: Object<'_> = [("a", Json::from(1))].into_iter().collect();
    assert_eq!(object["a"], json!(1));
    assert!(object["missing"].is_null());
}
