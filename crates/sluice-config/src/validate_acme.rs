//! `[acme]` -> `AcmeConfig`, and the checks across the config: listeners that name `acme`
//! certificates need the section, and HTTP-01 needs a plain-HTTP listener to answer on.

use std::time::Duration;

use crate::acme::{AcmeConfig, Challenge, RenewBefore};
use crate::acme_file::{FileAcme, RenewValue};
use crate::checker::V;
use crate::file::{FileConfig, S};
use crate::model::{ListenerConfig, ListenerProtocol};

pub fn acme(v: &mut V, a: &S<FileAcme>) -> Option<AcmeConfig> {
    let f = a.get_ref();
    let dir = f.directory.get_ref();
    if !(dir.starts_with("https://") || dir.starts_with("http://")) {
        v.err(
            f.directory.span(),
            "acme.directory",
            format!("`{dir}` is not a URL"),
            Some("\"https://acme-v02.api.letsencrypt.org/directory\""),
        );
    }
    for c in &f.contact {
        if !c.get_ref().starts_with("mailto:") {
            v.err(
                c.span(),
                "acme.contact",
                format!("`{}` is not a mailto: URL", c.get_ref()),
                Some("\"mailto:ops@example.com\""),
            );
        }
    }
    let challenge = match f.challenge.as_ref().map(|c| (c, c.get_ref().as_str())) {
        None | Some((_, "http-01")) => Challenge::Http01,
        Some((_, "tls-alpn-01")) => Challenge::TlsAlpn01,
        Some((c, other)) => {
            v.err(
                c.span(),
                "acme.challenge",
                format!("unknown challenge `{other}`"),
                Some("\"http-01\" or \"tls-alpn-01\""),
            );
            Challenge::Http01
        }
    };
    let renew_before = f.renew_before.as_ref().map_or(RenewBefore::Fraction(1.0 / 3.0), |r| renew(v, r));
    if let Some(c) = f.coordination.as_ref().filter(|c| !c.get_ref().starts_with("redis://")) {
        v.err(
            c.span(),
            "acme.coordination",
            format!("`{}` is not a redis:// URL", c.get_ref()),
            Some("\"redis://127.0.0.1:6379\""),
        );
    }
    let lease = v.timeout(&f.lease, "acme.lease", Duration::from_secs(30));
    let base = v.base.clone();
    let ca = f.ca.as_ref().map(|c| base.join(c.get_ref()));
    if let (Some(p), Some(c)) = (&ca, &f.ca) {
        if let Err(e) = crate::tls::load_ca(p) {
            v.err(c.span(), "acme.ca", e, None);
        }
    }
    Some(AcmeConfig {
        directory: dir.clone(),
        contact: f.contact.iter().map(|c| c.get_ref().clone()).collect(),
        storage: base.join(f.storage.get_ref()),
        challenge,
        renew_before,
        coordination: f.coordination.as_ref().map(|c| c.get_ref().clone()),
        lease,
        ca,
    })
}

fn renew(v: &mut V, r: &S<RenewValue>) -> RenewBefore {
    let hint = Some("\"30d\", \"33%\" or 0.33 (a fraction of the lifetime)");
    let parsed = match r.get_ref() {
        RenewValue::Float(f) => fraction(*f),
        RenewValue::Str(s) => match s.trim().strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("`{s}` is not a percentage"))
                .and_then(|p| fraction(p / 100.0)),
            None => crate::units::parse_duration(s).map(RenewBefore::Time),
        },
    };
    parsed.unwrap_or_else(|e| {
        v.err(r.span(), "acme.renew_before", e, hint);
        RenewBefore::Fraction(1.0 / 3.0)
    })
}

fn fraction(f: f64) -> Result<RenewBefore, String> {
    if f > 0.0 && f < 1.0 {
        Ok(RenewBefore::Fraction(f))
    } else {
        Err(format!("{f} is not a fraction between 0 and 1"))
    }
}

/// Listeners that name `acme` certificates need `[acme]`; HTTP-01 needs a plain-HTTP
/// listener to answer on.
pub fn uses(v: &mut V, fc: &FileConfig, acme: Option<&AcmeConfig>, listeners: &[ListenerConfig]) {
    let named = fc.listeners.iter().filter_map(|(n, l)| {
        let t = l.tls.as_ref()?;
        let first = t.get_ref().acme.as_ref()?.first()?;
        Some((n.get_ref(), first.span()))
    });
    let mut any = false;
    for (name, span) in named {
        any = true;
        if acme.is_none() {
            v.err(
                span,
                &format!("listeners.{name}.tls.acme"),
                "acme names without an [acme] section",
                Some("[acme] directory = \"https://...\" storage = \"acme\""),
            );
        }
    }
    let plain = listeners.iter().any(|l| l.protocol == ListenerProtocol::Http && l.tls.is_none());
    if let (Some(a), Some(fa), true) = (acme, fc.acme.as_ref(), any) {
        if a.challenge == Challenge::Http01 && !plain {
            let hint = Some("add a plain-HTTP listener on port 80, or challenge = \"tls-alpn-01\"");
            v.err(fa.span(), "acme.challenge", "http-01 needs a plain-HTTP listener to answer on", hint);
        }
    }
}
