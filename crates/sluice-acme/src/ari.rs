//! ACME Renewal Information (RFC 9773): the CA's suggested renewal window for a certificate,
//! asked for when the directory offers `renewalInfo`. A CA without it, or any error, leaves
//! the configured `renew_before` in charge.

use instant_acme::CertificateIdentifier;

use crate::certs::Issued;
use crate::order::Ctx;

/// (start, end) of the suggested window in Unix seconds.
pub async fn window(ctx: &Ctx, issued: &Issued) -> Option<(u64, u64)> {
    let account = ctx.account().await.ok()?;
    let id = CertificateIdentifier::try_from(&issued.key.cert[0]).ok()?;
    match account.renewal_info(&id).await {
        Ok((info, _)) => {
            let w = info.suggested_window;
            Some((w.start.unix_timestamp().max(0) as u64, w.end.unix_timestamp().max(0) as u64))
        }
        Err(instant_acme::Error::Unsupported(_)) => None,
        Err(e) => {
            tracing::debug!(error = %e, "ACME renewal information unavailable");
            None
        }
    }
}
