//! One ACME order for one name (RFC 8555 §7.4) through instant-acme: the account (loaded from
//! storage or registered once), the challenge answered by HTTP-01 or TLS-ALPN-01 (opened in
//! the proxy's `AcmeStore`, and in Redis when instances coordinate), a fresh key and CSR, and
//! the issued chain. Every error carries the CA's problem document when it sent one.

use std::sync::Arc;
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, Order,
    OrderStatus, RetryPolicy,
};
use sluice_config::{AcmeConfig, Challenge};
use sluice_proxy::acme::AcmeStore;

use crate::certs::{self, Issued};
use crate::coord::Coord;
use crate::storage::Storage;

/// What a name's task needs: settings, storage, the proxy's store, coordination.
pub struct Ctx {
    pub cfg: AcmeConfig,
    pub storage: Storage,
    pub store: Arc<AcmeStore>,
    pub coord: Option<Coord>,
    account: tokio::sync::OnceCell<Account>,
}

/// How long the CA may take to validate and to issue.
const POLL: RetryPolicy = RetryPolicy::new().timeout(Duration::from_secs(90));

fn problem(e: instant_acme::Error) -> String {
    match e {
        instant_acme::Error::Api(p) => format!("the CA refused: {p}"),
        other => other.to_string(),
    }
}

impl Ctx {
    pub fn new(cfg: AcmeConfig, store: Arc<AcmeStore>, coord: Option<Coord>) -> Ctx {
        let storage = Storage::new(&cfg.storage);
        Ctx { cfg, storage, store, coord, account: tokio::sync::OnceCell::new() }
    }

    /// The ACME account: stored credentials, else a new registration (then stored).
    pub async fn account(&self) -> Result<&Account, String> {
        self.account.get_or_try_init(|| self.open_account()).await
    }

    async fn open_account(&self) -> Result<Account, String> {
        let builder = || match &self.cfg.ca {
            Some(ca) => Account::builder_with_root(ca).map_err(|e| format!("acme.ca: {e}")),
            None => Account::builder().map_err(|e| e.to_string()),
        };
        let dir = &self.cfg.directory;
        if let Some(json) = self.storage.load_account(dir) {
            let creds: AccountCredentials = serde_json::from_str(&json).map_err(|e| format!("stored account: {e}"))?;
            return builder()?.from_credentials(creds).await.map_err(problem);
        }
        let contact: Vec<&str> = self.cfg.contact.iter().map(String::as_str).collect();
        let new = NewAccount { contact: &contact, terms_of_service_agreed: true, only_return_existing: false };
        let (account, creds) = builder()?.create(&new, dir.clone(), None).await.map_err(problem)?;
        let json = serde_json::to_string(&creds).map_err(|e| e.to_string())?;
        self.storage.save_account(dir, &json)?;
        tracing::info!(directory = %dir, "ACME account registered");
        Ok(account)
    }

    /// Places an order for `name` and waits for its certificate.
    pub async fn order(&self, name: &str) -> Result<Issued, String> {
        let account = self.account().await?;
        let ids = [Identifier::Dns(name.to_string())];
        let mut order = account.new_order(&NewOrder::new(&ids)).await.map_err(problem)?;
        tracing::info!(name, url = %order.url(), "ACME order placed");
        let mut opened = Vec::new();
        let result = self.complete(name, &mut order, &mut opened).await;
        for token in opened {
            self.close(name, &token).await;
        }
        result
    }

    async fn complete(&self, name: &str, order: &mut Order, opened: &mut Vec<String>) -> Result<Issued, String> {
        let kind = match self.cfg.challenge {
            Challenge::Http01 => ChallengeType::Http01,
            Challenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
        };
        let mut auths = order.authorizations();
        while let Some(a) = auths.next().await {
            let mut a = a.map_err(problem)?;
            match a.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(format!("authorization for {name} is {other:?}")),
            }
            let mut ch =
                a.challenge(kind.clone()).ok_or_else(|| format!("the CA offers no {kind:?} challenge for {name}"))?;
            let ka = ch.key_authorization();
            self.open(name, &ch.token, ka.as_str(), ka.digest().as_ref()).await?;
            opened.push(ch.token.clone());
            ch.set_ready().await.map_err(problem)?;
        }
        let status = order.poll_ready(&POLL).await.map_err(problem)?;
        if status != OrderStatus::Ready {
            return Err(why_invalid(order).await);
        }
        let (key_pem, csr) = certs::key_and_csr(name)?;
        order.finalize_csr(&csr).await.map_err(problem)?;
        let chain = order.poll_certificate(&POLL).await.map_err(problem)?;
        Issued::parse(&chain, &key_pem)
    }

    /// Makes the challenge answerable here and, when coordinated, by every instance.
    async fn open(&self, name: &str, token: &str, key_authorization: &str, digest: &[u8]) -> Result<(), String> {
        match self.cfg.challenge {
            Challenge::Http01 => {
                self.store.set_token(token, Some(key_authorization.to_string()));
                if let Some(c) = &self.coord {
                    c.publish_http(token, Some(key_authorization)).await?;
                }
            }
            Challenge::TlsAlpn01 => {
                self.store.set_alpn(name, Some(certs::challenge_cert(name, digest)?));
                if let Some(c) = &self.coord {
                    c.publish_alpn(name, Some(digest)).await?;
                    // The waiting instances poll every 500 ms: let them install it first.
                    tokio::time::sleep(Duration::from_millis(1200)).await;
                }
            }
        }
        Ok(())
    }

    async fn close(&self, name: &str, token: &str) {
        self.store.set_token(token, None);
        self.store.set_alpn(name, None);
        if let Some(c) = &self.coord {
            let _ = c.publish_http(token, None).await;
            let _ = c.publish_alpn(name, None).await;
        }
    }
}

/// The CA's reason an order went invalid: the failed challenge's problem document.
async fn why_invalid(order: &mut Order) -> String {
    let mut auths = order.authorizations();
    while let Some(Ok(a)) = auths.next().await {
        if let Some(p) = a.challenges.iter().find_map(|c| c.error.as_ref()) {
            return format!("validation failed: {p}");
        }
    }
    "the order became invalid".to_string()
}
