//! Who may use the server from a browser: requests another web site's page makes in a
//! visitor's browser are refused (their `Origin` is not this server), and, on a loopback
//! address, so are requests for any other host name (DNS rebinding: `evil.example` made to
//! resolve to 127.0.0.1). Without this any page the user opens could use the server. Clients
//! that are not browsers send no `Origin`.

use std::net::Ipv4Addr;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::Shared;

/// The middleware: one `Host`, a loopback one with the bound port when the server listens on
/// loopback, an absolute-form target naming that same host, and an `Origin`, when present,
/// that is this server's own.
pub async fn same_site(State(state): State<Shared>, request: Request, next: Next) -> Response {
    match check(&request, state.loopback.then_some(state.port)) {
        Ok(()) => next.run(request).await,
        Err(message) => ApiError::new(StatusCode::FORBIDDEN, message).into_response(),
    }
}

/// `Err` with the refusal's message. `loopback_port`: the bound port, when bound to loopback.
fn check(request: &Request, loopback_port: Option<u16>) -> Result<(), String> {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(h), None) => h
            .to_str()
            .map_err(|_| "the Host header is not text".to_string())?,
        (None, _) => return Err("a request needs a Host header".into()),
        (Some(_), Some(_)) => return Err("more than one Host header".into()),
    };
    // An absolute-form target (`POST http://other/v1/stylize`) names the host too.
    if let Some(authority) = request.uri().authority() {
        if !authority.as_str().eq_ignore_ascii_case(host) {
            return Err(format!(
                "target host '{authority}' is not the Host '{host}'"
            ));
        }
    }
    if let Some(port) = loopback_port {
        if !is_loopback_host(host, port) {
            return Err(format!(
                "host '{host}': this server listens on a loopback address and serves only localhost, 127.x.y.z or [::1] on port {port}"
            ));
        }
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let same = origin
            .strip_prefix("http://")
            .is_some_and(|h| h.eq_ignore_ascii_case(host));
        if !same {
            return Err(format!(
                "origin '{origin}': requests from other sites' pages are refused"
            ));
        }
    }
    Ok(())
}

/// Whether `host` (a Host header's value) is a literal loopback address or `localhost`, with
/// `port` (which may be left out only when it is 80, HTTP's own).
fn is_loopback_host(host: &str, port: u16) -> bool {
    let (name, given_port) = match host.rsplit_once(':') {
        // `[::1]` alone has colons inside its brackets.
        Some((name, p)) if !p.ends_with(']') => (name, Some(p)),
        _ => (host, None),
    };
    let port_ok = match given_port {
        Some(p) => {
            !p.is_empty()
                && p.len() <= 5
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>() == Ok(port)
        }
        None => port == 80,
    };
    let name_ok =
        name.eq_ignore_ascii_case("localhost") || name == "[::1]" || is_dotted_loopback(name);
    port_ok && name_ok
}

/// A dotted-quad IPv4 literal in 127.0.0.0/8, written plainly (four decimal parts, no leading
/// zeros): `127.evil.example` and `127.0.0.1.nip.io` are names, not addresses.
fn is_dotted_loopback(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
        && name.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().uri(target);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn loopback_hosts_are_literal_addresses_with_the_port() {
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
            "127.3.2.1:8080",
        ] {
            assert!(is_loopback_host(ok, 8080), "{ok}");
        }
        assert!(is_loopback_host("localhost", 80));
        for bad in [
            "127.evil.example:8080",
            "127.0.0.1.nip.io:8080",
            "127.0.0.1:8081",
            "127.0.0.1",
            "localhost:",
            "localhost:08080x",
            "127.0.0.01:8080",
            "127.1:8080",
            "128.0.0.1:8080",
            "evil.example:8080",
            "[::2]:8080",
            "localhost.evil.example:8080",
            "",
        ] {
            assert!(!is_loopback_host(bad, 8080), "{bad}");
        }
    }

    #[test]
    fn one_host_an_agreeing_target_and_a_same_origin() {
        let ok = request("/v1/styles", &[("host", "127.0.0.1:9000")]);
        assert_eq!(check(&ok, Some(9000)), Ok(()));
        let two = request(
            "/v1/styles",
            &[("host", "127.0.0.1:9000"), ("host", "evil.example:9000")],
        );
        assert!(check(&two, Some(9000))
            .unwrap_err()
            .contains("more than one Host"));
        let none = request("/v1/styles", &[]);
        assert!(check(&none, None).is_err());
        let absolute = request(
            "http://evil.example:9000/v1/styles",
            &[("host", "127.0.0.1:9000")],
        );
        assert!(check(&absolute, Some(9000))
            .unwrap_err()
            .contains("target host"));
        let rebound = request(
            "/v1/styles",
            &[
                ("host", "127.evil.example:9000"),
                ("origin", "http://127.evil.example:9000"),
            ],
        );
        assert!(check(&rebound, Some(9000))
            .unwrap_err()
            .contains("loopback"));
        let foreign = request(
            "/v1/styles",
            &[
                ("host", "127.0.0.1:9000"),
                ("origin", "http://evil.example"),
            ],
        );
        assert!(check(&foreign, Some(9000)).unwrap_err().contains("origin"));
        let page = request(
            "/v1/styles",
            &[
                ("host", "127.0.0.1:9000"),
                ("origin", "http://127.0.0.1:9000"),
            ],
        );
        assert_eq!(check(&page, Some(9000)), Ok(()));
        // Bound elsewhere (with a token), any host name is served; Origin still must match.
        let named = request(
            "/v1/styles",
            &[
                ("host", "brushwork.lan:9000"),
                ("origin", "http://brushwork.lan:9000"),
            ],
        );
        assert_eq!(check(&named, None), Ok(()));
    }
}
