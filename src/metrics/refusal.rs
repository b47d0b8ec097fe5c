//! A refused or failed request in words naming what to fix: 401/403 (and vmauth's 400s) by the
//! credentials the client sends, TLS failures by their cause (not trusted, expired on which day),
//! and error bodies with every secret cut out (vmauth quotes an unknown token). Used by `client`.

use std::path::Path;

use chrono::DateTime;

use super::decode::PromError;

/// What the client sends, as far as the words of a refusal go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    None,
    Bearer,
    Basic,
}

/// An error body with every one of `secrets` cut out; `None` when the body holds none.
pub fn redact(body: &[u8], secrets: &[String]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(body);
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return None;
    }
    let text = secrets
        .iter()
        .fold(text.into_owned(), |t, s| t.replace(s.as_str(), "<secret>"));
    Some(text.into_bytes())
}

/// A 401 or 403 that is not the Prometheus API's own error, in words naming the keys to fix
/// for the credentials sent to `url`. The body is left out: it may echo a credential.
pub fn refused(e: PromError, sent: Credentials, url: &str) -> PromError {
    let status = match &e {
        PromError::Http {
            status: status @ (401 | 403),
            ..
        } => *status,
        // vmauth answers an unknown token with 400 and "cannot find the provided auth token".
        PromError::Http {
            status: 400,
            body_excerpt,
        } if body_excerpt.contains("auth token") => 400,
        _ => return e,
    };
    let fix = match (sent, status) {
        (Credentials::None, _) => {
            "it wants credentials: set [prometheus] basic_auth or bearer_token_file"
        }
        (Credentials::Basic, 400 | 401) => {
            "check [prometheus] basic_auth.username and basic_auth.password_file"
        }
        (Credentials::Bearer, 400 | 401) => {
            "check [prometheus] bearer_token_file (the token was refused)"
        }
        (_, _) => {
            "the credentials were accepted but may not read this: check [prometheus] url \
             (its path prefix) and headers (the tenant), or the user's permissions"
        }
    };
    PromError::Unauthorized {
        status,
        url: url.to_string(),
        fix: fix.to_string(),
    }
}

/// vmauth's 400 for a path no `url_map` entry routes, without the query it quotes at length.
pub fn no_route(e: PromError, body: &[u8]) -> PromError {
    const SAID: &str = "missing route for \"";
    let text = String::from_utf8_lossy(body);
    let Some(at) = text.find(SAID) else {
        return e;
    };
    let path: String = text[at + SAID.len()..]
        .chars()
        .take_while(|c| !matches!(c, '?' | '"'))
        .collect();
    match e {
        PromError::Http { status, .. } => PromError::Http {
            status,
            body_excerpt: format!("missing route for {path} (no url_map entry in vmauth)"),
        },
        other => other,
    }
}

/// A TLS failure under `e` in words naming what to fix (`ca_file` is `[prometheus] ca_file`);
/// `None` when TLS is not why it failed, or the failure has no clear fix.
pub fn tls_words(e: &reqwest::Error, ca_file: Option<&Path>) -> Option<String> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(cert) = tls_cause(e)? else {
        return None;
    };
    let day = |t: &rustls::pki_types::UnixTime| {
        i64::try_from(t.as_secs())
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .map_or_else(
                || "?".into(),
                |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            )
    };
    Some(match cert {
        C::UnknownIssuer | C::BadSignature => match ca_file {
            None => "certificate not trusted: set [prometheus] ca_file to the CA (PEM) that \
                     signed the server's certificate"
                .to_string(),
            Some(path) => format!(
                "certificate not trusted: not signed by ca_file {} (nor by a system root): \
                 point [prometheus] ca_file at the CA that signed the server's certificate",
                path.display()
            ),
        },
        C::ExpiredContext { not_after, .. } => format!(
            "certificate expired on {}: the server needs a renewed certificate",
            day(not_after)
        ),
        C::Expired => "certificate expired: the server needs a renewed certificate".into(),
        C::NotValidYetContext { not_before, .. } => format!(
            "certificate not valid before {}: check the server's certificate and this \
             machine's clock",
            day(not_before)
        ),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            format!("{cert}: put a name the certificate holds in [prometheus] url")
        }
        _ => return None,
    })
}

/// The rustls error under a request's failure, if TLS is why it failed. It arrives inside
/// `io::Error`s (two: tokio-rustls's, hyper-rustls's), whose `source()` skips what they wrap:
/// look inside each with `get_ref`.
fn tls_cause(e: &reqwest::Error) -> Option<&rustls::Error> {
    fn find<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let wrapped = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref);
        if let Some(inner) = wrapped {
            return find(inner);
        }
        e.source().and_then(find)
    }
    std::error::Error::source(e).and_then(find)
}

#[cfg(test)]
mod tests {
    use crate::metrics::client::PrometheusClient;
    use crate::metrics::client::PrometheusSettings;
    use crate::metrics::test_stub::{client, config, reply, stub, t};
    use std::collections::BTreeMap;
    use std::io::Write as _;

    fn secret_file(contents: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("tempfile");
        f.write_all(contents.as_bytes()).expect("write");
        f
    }

    /// What each refusal says names the key to fix, and a body quoting a credential (vmauth
    /// quotes an unknown token; any proxy might) never carries it into the error.
    #[tokio::test]
    async fn refusals_name_the_key_and_never_echo_a_secret() {
        let server = stub(|seen| {
            let said = seen.header("authorization").unwrap_or("none").to_string();
            match seen.param("query") {
                "vmauth" => reply(
                    400,
                    format!("cannot find the provided auth token {said:?} in config"),
                ),
                "forbidden" => reply(403, "forbidden"),
                "route" => reply(
                    400,
                    "remoteAddr: \"127.0.0.1:1\"; requestURI: /api/v1/query?query=route; \
                     cannot determine targetURL: missing route for \"/api/v1/query?query=route\"",
                ),
                _ => reply(502, format!("upstream said: {said} / tenant-secret")),
            }
        })
        .await;
        let token = secret_file("tok-SECRET-1\n");
        let cfg = PrometheusSettings {
            bearer_token_file: Some(token.path().to_path_buf()),
            headers: BTreeMap::from([("X-Api-Key".to_string(), "tenant-secret".to_string())]),
            ..config(&server.url("/prom"))
        };
        let with_token = PrometheusClient::new(&cfg).expect("client");
        let ask = |q: &'static str| {
            let client = &with_token;
            async move {
                let err = client.query(q, t(1_700_000_000)).await.expect_err(q);
                let text = err.to_string();
                assert!(!text.contains("SECRET"), "{text}");
                assert!(!text.contains("tenant-secret"), "{text}");
                text
            }
        };
        let url = server.url("/prom");
        assert_eq!(
            ask("vmauth").await,
            format!(
                "400 Bad Request from {url}: check [prometheus] bearer_token_file (the token was refused)"
            )
        );
        assert!(ask("forbidden").await.starts_with(&format!(
            "403 Forbidden from {url}: the credentials were accepted"
        )),);
        assert_eq!(
            ask("route").await,
            "Prometheus answered HTTP 400 Bad Request (check prometheus.url and its path prefix): \
             missing route for /api/v1/query (no url_map entry in vmauth)"
        );
        let other = ask("other").await;
        assert!(
            other.contains("upstream said: Bearer <secret> / <secret>"),
            "{other}"
        );

        // Without credentials, a 401 says to set them.
        let bare = stub(|_| reply(401, "Unauthorized")).await;
        let text = client(&bare.url(""))
            .query("up", t(1_700_000_000))
            .await
            .expect_err("401")
            .to_string();
        assert_eq!(
            text,
            format!(
                "401 Unauthorized from {}: it wants credentials: set [prometheus] basic_auth or \
                 bearer_token_file",
                bare.url("")
            )
        );
    }
}
