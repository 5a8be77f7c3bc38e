//! Coordination between instances through Redis (`[acme] coordination`): a lease per name
//! (SET NX PX, renewed while its holder works, released when done, expiring when the holder
//! dies) so one instance places each order; the finished certificate and key, published for
//! the others; and open challenge answers, published so whichever instance the CA reaches
//! can answer.
//!
//! Keys: `sluice:acme:lease:NAME` (holder id), `sluice:acme:cert:NAME` (JSON chain + key),
//! `sluice:acme:http:TOKEN` (key authorization), `sluice:acme:alpn:NAME` (digest, hex).

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use sluice_proxy::acme::REDIS_HTTP_TOKEN;
use tokio::sync::Mutex;

const RENEW: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
/// How long published challenge answers live (an order that takes longer has failed).
const CHALLENGE_TTL: Duration = Duration::from_secs(600);

pub struct Coord {
    client: redis::Client,
    conn: Mutex<Option<MultiplexedConnection>>,
    /// This instance's lease holder id.
    pub id: String,
    pub lease: Duration,
}

type R<T> = Result<T, String>;

impl Coord {
    pub fn new(url: &str, lease: Duration) -> R<Coord> {
        let client = redis::Client::open(url).map_err(|e| format!("coordination `{url}`: {e}"))?;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let id = format!("{}/{}/{:08x}", host.trim(), std::process::id(), rand::random::<u32>());
        Ok(Coord { client, conn: Mutex::new(None), id, lease })
    }

    pub fn client(&self) -> redis::Client {
        self.client.clone()
    }

    async fn conn(&self) -> R<MultiplexedConnection> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let cfg = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(3)));
        let c =
            self.client.get_multiplexed_async_connection_with_config(&cfg).await.map_err(|e| format!("redis: {e}"))?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs one command; a failed connection is dropped so the next call reconnects.
    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> R<T> {
        let mut c = self.conn().await?;
        let out = cmd.query_async(&mut c).await;
        if out.is_err() {
            *self.conn.lock().await = None;
        }
        out.map_err(|e| format!("redis: {e}"))
    }

    async fn script(&self, src: &str, key: String, args: &[String]) -> R<i64> {
        let mut c = self.conn().await?;
        let out = redis::Script::new(src).key(key).arg(args).invoke_async(&mut c).await;
        if out.is_err() {
            *self.conn.lock().await = None;
        }
        out.map_err(|e| format!("redis: {e}"))
    }

    /// Takes the lease on `name` if nobody holds it.
    pub async fn try_lease(&self, name: &str) -> R<bool> {
        let ms = self.lease.as_millis() as u64;
        let set: Option<String> = self
            .run(redis::cmd("SET").arg(format!("sluice:acme:lease:{name}")).arg(&self.id).arg("NX").arg("PX").arg(ms))
            .await?;
        Ok(set.is_some())
    }

    /// Extends the lease; false when it is no longer ours.
    pub async fn renew_lease(&self, name: &str) -> R<bool> {
        let args = [self.id.clone(), self.lease.as_millis().to_string()];
        Ok(self.script(RENEW, format!("sluice:acme:lease:{name}"), &args).await? == 1)
    }

    /// Whether any instance holds the lease on `name`.
    pub async fn lease_held(&self, name: &str) -> R<bool> {
        let n: i64 = self.run(redis::cmd("EXISTS").arg(format!("sluice:acme:lease:{name}"))).await?;
        Ok(n == 1)
    }

    pub async fn release(&self, name: &str) {
        let _ = self.script(RELEASE, format!("sluice:acme:lease:{name}"), std::slice::from_ref(&self.id)).await;
    }

    pub async fn publish_cert(&self, name: &str, chain: &str, key: &str) -> R<()> {
        let v = serde_json::json!({ "chain": chain, "key": key }).to_string();
        self.run(redis::cmd("SET").arg(format!("sluice:acme:cert:{name}")).arg(v)).await
    }

    /// The shared (chain, key) for `name`, if an instance published one.
    pub async fn fetch_cert(&self, name: &str) -> R<Option<(String, String)>> {
        let v: Option<String> = self.run(redis::cmd("GET").arg(format!("sluice:acme:cert:{name}"))).await?;
        let Some(v) = v else { return Ok(None) };
        let j: serde_json::Value = serde_json::from_str(&v).map_err(|e| e.to_string())?;
        let s = |k: &str| j.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Ok(s("chain").zip(s("key")))
    }

    pub async fn publish_http(&self, token: &str, key_authorization: Option<&str>) -> R<()> {
        let key = format!("{REDIS_HTTP_TOKEN}{token}");
        match key_authorization {
            Some(k) => self.run(redis::cmd("SET").arg(key).arg(k).arg("EX").arg(CHALLENGE_TTL.as_secs())).await,
            None => self.run(redis::cmd("DEL").arg(key)).await.map(|_: i64| ()),
        }
    }

    pub async fn publish_alpn(&self, name: &str, digest: Option<&[u8]>) -> R<()> {
        let key = format!("sluice:acme:alpn:{name}");
        match digest {
            Some(d) => self.run(redis::cmd("SET").arg(key).arg(hex(d)).arg("EX").arg(CHALLENGE_TTL.as_secs())).await,
            None => self.run(redis::cmd("DEL").arg(key)).await.map(|_: i64| ()),
        }
    }

    pub async fn fetch_alpn(&self, name: &str) -> R<Option<Vec<u8>>> {
        let v: Option<String> = self.run(redis::cmd("GET").arg(format!("sluice:acme:alpn:{name}"))).await?;
        Ok(v.and_then(|h| unhex(&h)))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn digests_round_trip_through_hex() {
        let d: Vec<u8> = (0..32).map(|i| i * 7).collect();
        assert_eq!(super::unhex(&super::hex(&d)), Some(d));
        assert_eq!(super::unhex("zz"), None);
    }
}
