//! The rate limiters (a component the state holds): per key, in memory, per
//! process, GCRA (governor). Services charge them; what is over is `rate-limited`
//! with the seconds to wait.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

/// Per-key rate limiters (GCRA, in memory, per process).
pub struct Limiters {
    /// Per client address and username.
    pub signin: DefaultKeyedRateLimiter<String>,
    /// Per client address, whatever the username.
    pub signin_addr: DefaultKeyedRateLimiter<String>,
    pub signup: DefaultKeyedRateLimiter<String>,
    pub upload: DefaultKeyedRateLimiter<String>,
    pub writes_ip: DefaultKeyedRateLimiter<String>,
    pub writes_account: DefaultKeyedRateLimiter<String>,
    /// Upload volume per account, in MiB (multipart and resumable together).
    pub upload_mib: DefaultKeyedRateLimiter<String>,
    /// View events that count, per (viewer or address, video).
    pub views: DefaultKeyedRateLimiter<String>,
    /// Export requests per account.
    pub exports: DefaultKeyedRateLimiter<String>,
}

impl Limiters {
    pub fn new(c: &crate::config::RateLimits, u: &crate::config::Uploads) -> Limiters {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        Limiters {
            signin: RateLimiter::keyed(Quota::per_minute(nz(c.signin_per_minute))),
            signin_addr: RateLimiter::keyed(Quota::per_minute(nz(c.signin_per_minute_per_address))),
            signup: RateLimiter::keyed(Quota::per_hour(nz(c.signup_per_hour)).allow_burst(nz(c.signup_per_hour))),
            upload: RateLimiter::keyed(Quota::per_hour(nz(c.uploads_per_hour)).allow_burst(nz(c.uploads_per_hour))),
            writes_ip: RateLimiter::keyed(Quota::per_minute(nz(c.writes_per_minute_per_ip))),
            writes_account: RateLimiter::keyed(Quota::per_minute(nz(c.writes_per_minute_per_account))),
            upload_mib: {
                let mib = u32::try_from((u.bytes_per_hour.max(1) + (1 << 20) - 1) >> 20).unwrap_or(u32::MAX);
                RateLimiter::keyed(Quota::per_hour(nz(mib)).allow_burst(nz(mib)))
            },
            // One view per viewer and video every 10 minutes counts; replays in
            // between are not new views (and scripts cannot inflate counts).
            views: RateLimiter::keyed(Quota::with_period(std::time::Duration::from_secs(600)).unwrap_or(Quota::per_hour(nz(6)))),
            exports: RateLimiter::keyed(
                Quota::with_period(std::time::Duration::from_secs(86_400 / u64::from(c.exports_per_day.max(1))))
                    .unwrap_or(Quota::per_hour(nz(1)))
                    .allow_burst(nz(c.exports_per_day)),
            ),
        }
    }

    /// Charges `bytes` of upload volume to `account`; `Err(seconds)` when over.
    pub fn charge_upload(&self, account: &kinora_core::Id, bytes: u64) -> Result<(), u64> {
        let mib = u32::try_from(bytes.div_ceil(1 << 20).max(1)).unwrap_or(u32::MAX);
        let n = NonZeroU32::new(mib).unwrap_or(NonZeroU32::MIN);
        match self.upload_mib.check_key_n(&account.to_string(), n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(nu)) => Err(nu.wait_time_from(DefaultClock::default().now()).as_secs().max(1)),
            // More than a whole hour's volume in one upload.
            Err(_) => Err(3600),
        }
    }

    /// `Err(seconds to wait)` when `key` is over its limit.
    pub fn check(limiter: &DefaultKeyedRateLimiter<String>, key: String) -> Result<(), u64> {
        limiter.check_key(&key).map_err(|nu| {
            let wait = nu.wait_time_from(DefaultClock::default().now());
            wait.as_secs().max(1)
        })
    }

    /// `n` at once, as a `rate-limited` error.
    pub fn limit_n(limiter: &DefaultKeyedRateLimiter<String>, key: String, n: u32) -> crate::AppResult<()> {
        let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        match limiter.check_key_n(&key, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(nu)) => Err(crate::AppError::rate_limited(nu.wait_time_from(DefaultClock::default().now()).as_secs().max(1))),
            // More than the limit allows in a whole period.
            Err(_) => Err(crate::AppError::rate_limited(3600)),
        }
    }

    /// [`Limiters::check`] as a `rate-limited` error.
    pub fn limit(limiter: &DefaultKeyedRateLimiter<String>, key: String) -> crate::AppResult<()> {
        Self::check(limiter, key).map_err(crate::AppError::rate_limited)
    }

    pub fn forget_idle(&self) {
        self.signin.retain_recent();
        self.signin_addr.retain_recent();
        self.signup.retain_recent();
        self.upload.retain_recent();
        self.writes_ip.retain_recent();
        self.writes_account.retain_recent();
        self.upload_mib.retain_recent();
        self.views.retain_recent();
        self.exports.retain_recent();
    }
}
