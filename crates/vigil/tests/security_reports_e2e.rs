//! Browsers' security reports beyond CSP, sent as raw requests shaped as browsers send them,
//! end to end on SQLite and PostgreSQL: Expect-CT (`application/expect-ct-report+json`) and HPKP
//! reports on the security endpoint become issues grouped by kind and host and titled as Sentry
//! titles them; NEL reports (`application/reports+json`) at `/api/{project_id}/nel/` are
//! accepted and kept (checked in the SQLite store), and a body that is not a report is 400.

mod common;

use common::backend::{test_on_both_backends, Backend, Server};
use common::{Dsn, Vigil};
use serde_json::{json, Value};

test_on_both_backends!(
    certificate_and_nel_reports_are_kept,
    sqlite_certificate_and_nel_reports,
    postgres_certificate_and_nel_reports
);

fn expect_ct(hostname: &str) -> Value {
    json!({"expect-ct-report": {
        "date-time": "2026-12-01T13:00:50Z",
        "hostname": hostname,
        "port": 443,
        "effective-expiration-date": "2027-05-01T12:40:50Z",
        "served-certificate-chain": ["-----BEGIN CERTIFICATE-----\nMIIEBDCCAuyg\n-----END CERTIFICATE-----"],
        "validated-certificate-chain": ["-----BEGIN CERTIFICATE-----\nMIIEBDCCAuyg\n-----END CERTIFICATE-----"],
        "scts": [{"version": 1, "status": "invalid", "source": "embedded", "serialized_sct": "ABCD=="}]
    }})
}

fn hpkp(hostname: &str) -> Value {
    json!({
        "date-time": "2026-12-01T13:00:50Z",
        "hostname": hostname,
        "port": 443,
        "effective-expiration-date": "2027-05-01T12:40:50Z",
        "include-subdomains": false,
        "served-certificate-chain": ["-----BEGIN CERTIFICATE-----\nMIIEBDCCAuyg\n-----END CERTIFICATE-----"],
        "validated-certificate-chain": ["-----BEGIN CERTIFICATE-----\nMIIEBDCCAuyg\n-----END CERTIFICATE-----"],
        "known-pins": ["pin-sha256=\"d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=\""]
    })
}

/// POSTs `body` with `content_type` to the ingest `endpoint` of the DSN's project with the key
/// in the query string, as a browser's `report-uri` does; the status.
fn report(vigil: &Vigil, dsn: &Dsn, endpoint: &str, content_type: &str, body: &[u8]) -> u16 {
    let url = vigil.url(&format!(
        "/api/{}/{endpoint}/?sentry_key={}",
        dsn.project_id, dsn.public_key
    ));
    vigil
        .http()
        .post(url)
        .header("content-type", content_type)
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        )
        .body(body.to_vec())
        .send()
        .unwrap_or_else(|e| panic!("POST {endpoint}: {e}"))
        .status()
        .as_u16()
}

fn certificate_and_nel_reports_are_kept(backend: Backend) {
    let server = Server::start(backend);
    let vigil = &server.vigil;
    // The reports name a current Chrome: the default legacy-browsers filter drops the Chrome
    // versions that sent Expect-CT (before 107), as Sentry's does.
    let dsn = vigil.create_project("shop", "python");
    let ct_type = "application/expect-ct-report+json";
    for host in ["shop.example.com", "shop.example.com", "api.example.com"] {
        let body = expect_ct(host).to_string();
        assert_eq!(
            report(vigil, &dsn, "security", ct_type, body.as_bytes()),
            200
        );
    }
    let body = hpkp("shop.example.com").to_string();
    assert_eq!(
        report(vigil, &dsn, "security", "application/json", body.as_bytes()),
        200
    );
    // A certificate report without its host is refused, as Relay's schema refuses it.
    let hostless = json!({"expect-ct-report": {"port": 443}}).to_string();
    assert_eq!(
        report(vigil, &dsn, "security", ct_type, hostless.as_bytes()),
        400
    );

    let nel = json!([
        {"age": 12, "type": "network-error", "url": "https://shop.example.com/checkout",
         "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
         "body": {"elapsed_time": 48, "method": "GET", "phase": "dns", "protocol": "http/1.1",
                  "referrer": "", "sampling_fraction": 1.0, "server_ip": "", "status_code": 0,
                  "type": "dns.name_not_resolved"}},
        {"age": 3, "type": "network-error", "url": "https://shop.example.com/api/cart",
         "body": {"elapsed_time": 1200, "method": "POST", "phase": "application",
                  "protocol": "h2", "referrer": "https://shop.example.com/", "sampling_fraction": 1.0,
                  "server_ip": "203.0.113.7", "status_code": 503, "type": "http.error"}}
    ])
    .to_string();
    assert_eq!(
        report(
            vigil,
            &dsn,
            "nel",
            "application/reports+json",
            nel.as_bytes()
        ),
        200
    );
    assert_eq!(
        report(
            vigil,
            &dsn,
            "nel",
            "application/reports+json",
            b"{\"type\": 1}"
        ),
        400
    );
    vigil.settle();

    let issues = vigil.project_issues("shop", "");
    let by_title = |title: &str| -> Value {
        issues
            .iter()
            .find(|i| i["title"] == title)
            .cloned()
            .unwrap_or_else(|| panic!("no issue {title:?} in {issues:?}"))
    };
    let shop_ct = by_title("Expect-CT failed for 'shop.example.com'");
    assert_eq!(
        shop_ct["count"], "2",
        "two reports of one host are one issue"
    );
    assert_eq!(shop_ct["culprit"], "shop.example.com");
    assert_eq!(shop_ct["type"], "expectct");
    assert_eq!(shop_ct["metadata"]["origin"], "shop.example.com");
    let api_ct = by_title("Expect-CT failed for 'api.example.com'");
    assert_eq!(api_ct["count"], "1");
    let pins = by_title("Public key pinning validation failed for 'shop.example.com'");
    assert_eq!(pins["count"], "1");
    assert_eq!(pins["type"], "hpkp");
    assert_eq!(issues.len(), 3, "{issues:?}");

    // The event keeps the report under its interface, with Relay's tags.
    let event = vigil
        .api_get(
            &format!(
                "/api/0/issues/{}/events/latest/",
                shop_ct["id"].as_str().unwrap_or_default()
            ),
            &[],
        )
        .ok("the Expect-CT event");
    assert_eq!(event["type"], "expectct");
    let tags = common::tags(&event);
    assert!(
        tags.contains(&("hostname".into(), "shop.example.com".into())),
        "{tags:?}"
    );
    assert!(tags.contains(&("port".into(), "443".into())), "{tags:?}");

    if let Backend::Sqlite = backend {
        let path = vigil.data_dir().join("vigil.sqlite3");
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let kept = runtime.block_on(async {
            use vigil_store::prelude::*;
            let store = vigil_store::sqlite::SqliteStore::open(&path).expect("open the store");
            let project_id: i64 = dsn.project_id.parse().expect("a project id");
            store.raw_items(project_id, "nel").await.expect("raw items")
        });
        let kinds: Vec<Value> = kept
            .iter()
            .map(|item| {
                let report: Value = serde_json::from_slice(&item.payload).expect("a JSON report");
                report["body"]["type"].clone()
            })
            .collect();
        assert_eq!(kinds, [json!("dns.name_not_resolved"), json!("http.error")]);
    }
}
