//! `[listeners.X.tls]` -> `TlsConfig`: files are resolved against the config file's folder
//! and loaded here, so a missing file, a bad PEM or a key that doesn't match its certificate
//! is reported at its line and column by `sluice check` and refused by a reload.

use std::path::Path;
use std::time::Duration;

use crate::checker::V;
use crate::file::*;
use crate::tls::{load_ca, load_cert, system_roots, TlsConfig, UpstreamTls};

const KNOWN_ALPN: &[&str] = &["h2", "http/1.1"];

pub fn tls(v: &mut V, t: &S<FileTls>, path: &str) -> Option<TlsConfig> {
    let f = t.get_ref();
    let base = v.base.clone();
    let mut certs = Vec::new();
    for (i, c) in f.certs.iter().enumerate() {
        let p = format!("{path}.certs[{i}]");
        let c = c.get_ref();
        let ocsp = c.ocsp.as_ref().map(|o| base.join(o.get_ref()));
        match load_cert(&base.join(c.cert.get_ref()), &base.join(c.key.get_ref()), ocsp.as_deref()) {
            Ok(loaded) => certs.push(loaded),
            Err(e) => v.err(c.cert.span(), &p, e, Some("PEM files, relative to the config file")),
        }
    }
    let acme = acme_names(v, f, path);
    if f.certs.is_empty() && acme.is_empty() {
        v.err(
            t.span(),
            &format!("{path}.certs"),
            "no certificate",
            Some("certs = [{ cert = \"...\", key = \"...\" }], or acme = [\"www.example.com\"]"),
        );
    }
    let alpn = alpn(v, f, path);
    let tls12 = match f.min_version.as_ref().map(|m| (m, m.get_ref().as_str())) {
        None | Some((_, "1.3")) => false,
        Some((_, "1.2")) => true,
        Some((m, other)) => {
            v.err(
                m.span(),
                &format!("{path}.min_version"),
                format!("unsupported version `{other}`"),
                Some("\"1.2\" or \"1.3\""),
            );
            false
        }
    };
    let client_ca = f.client_ca.as_ref().and_then(|c| match load_ca(&base.join(c.get_ref())) {
        Ok(b) => Some(b),
        Err(e) => {
            v.err(c.span(), &format!("{path}.client_ca"), e, None);
            None
        }
    });
    let client_auth_required = client_auth(v, f, path);
    if let (Some(c), None) = (&f.client_auth, &f.client_ca) {
        v.err(
            c.span(),
            &format!("{path}.client_auth"),
            "client_auth without client_ca",
            Some("client_ca = \"ca.pem\""),
        );
    }
    let ticket_rotation = v.timeout(&f.ticket_rotation, &format!("{path}.ticket_rotation"), Duration::from_secs(3600));
    let session_cache = v.int(&f.session_cache, &format!("{path}.session_cache"), 0, 10_000_000, 20_000) as usize;
    let session_tickets = f.session_tickets.unwrap_or(true);
    if certs.len() != f.certs.len() {
        return None;
    }
    Some(TlsConfig {
        certs,
        acme,
        alpn,
        tls12,
        client_ca,
        client_auth_required,
        session_tickets,
        ticket_rotation,
        session_cache,
    })
}

/// `acme = ["www.example.com"]`: DNS names, each once.
fn acme_names(v: &mut V, f: &FileTls, path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in f.acme.iter().flatten() {
        match crate::acme::check_name(n.get_ref()) {
            Ok(name) if out.contains(&name) => {
                v.err(n.span(), &format!("{path}.acme"), format!("`{name}` is listed twice"), None)
            }
            Ok(name) => out.push(name),
            Err(e) => v.err(n.span(), &format!("{path}.acme"), e, None),
        }
    }
    out
}

fn alpn(v: &mut V, f: &FileTls, path: &str) -> Vec<String> {
    let Some(list) = &f.alpn else { return KNOWN_ALPN.iter().map(|s| s.to_string()).collect() };
    let mut out = Vec::new();
    for a in list {
        if KNOWN_ALPN.contains(&a.get_ref().as_str()) {
            out.push(a.get_ref().clone());
        } else {
            v.err(
                a.span(),
                &format!("{path}.alpn"),
                format!("unknown protocol `{}`", a.get_ref()),
                Some("\"h2\", \"http/1.1\""),
            );
        }
    }
    out
}

fn client_auth(v: &mut V, f: &FileTls, path: &str) -> bool {
    match f.client_auth.as_ref().map(|c| (c, c.get_ref().as_str())) {
        None | Some((_, "required")) => true,
        Some((_, "optional")) => false,
        Some((c, other)) => {
            let hint = Some("\"required\" or \"optional\"");
            v.err(c.span(), &format!("{path}.client_auth"), format!("unknown value `{other}`"), hint);
            true
        }
    }
}

/// The folder a config file's relative paths start from.
pub fn base_of(file: &str) -> std::path::PathBuf {
    Path::new(file).parent().map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf)
}

/// A cluster's `tls` table (or the defaults for `protocol = "https"` / `"h2"`).
pub fn upstream_tls(v: &mut V, t: Option<&S<FileUpstreamTls>>, path: &str) -> Option<UpstreamTls> {
    let base = v.base.clone();
    let f = t.map(|t| t.get_ref());
    let ca = f.and_then(|f| f.ca.as_ref());
    let roots = match ca {
        Some(c) => load_ca(&base.join(c.get_ref())).map_err(|e| v.err(c.span(), &format!("{path}.tls.ca"), e, None)),
        None => system_roots().map_err(|e| v.err(t.map_or(0..0, |t| t.span()), &format!("{path}.tls"), e, None)),
    };
    let client_cert = f.and_then(|f| f.client_cert.as_ref()).and_then(|c| {
        let (cert, key) = (base.join(c.get_ref().cert.get_ref()), base.join(c.get_ref().key.get_ref()));
        load_cert(&cert, &key, None).map_err(|e| v.err(c.span(), &format!("{path}.tls.client_cert"), e, None)).ok()
    });
    let sni = f.and_then(|f| f.sni.as_ref()).map(|s| s.get_ref().clone());
    if let Some(s) = f.and_then(|f| f.sni.as_ref()) {
        if rustls::pki_types::ServerName::try_from(s.get_ref().as_str()).is_err() {
            v.err(s.span(), &format!("{path}.tls.sni"), format!("`{}` is not a server name", s.get_ref()), None);
        }
    }
    let verify = f.and_then(|f| f.verify).unwrap_or(true);
    Some(UpstreamTls { roots: roots.ok()?, sni, verify, client_cert })
}
