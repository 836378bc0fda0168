//! Kinora's object storage: media objects, one store per region (a local directory
//! or an S3-compatible bucket, both through object_store), the primary and backup
//! regions, verified replication, reads that fall back to the replica, and which
//! regions are failing. The embedded default is a directory per
//! region under the data dir (`regions/<name>/`); handlers only see [`Regions`] and
//! [`object_store::ObjectStore`], so an S3-compatible bucket per region slots in
//! without touching them.
//!
//! Keys: `originals/<video>` (private, never served), `media/<video>/<name>`.

pub mod versions;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a region store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The configuration names a store that cannot be opened as written.
    #[error("{0}")]
    Config(String),
    /// No region of that name is configured.
    #[error("region {0:?} is not configured")]
    UnknownRegion(String),
    /// The store itself (the local directory or the S3 bucket) failed.
    #[error(transparent)]
    Store(#[from] object_store::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// An S3 request outside object_store (version listings) failed.
    #[error("S3: {0}")]
    S3(String),
    /// A copy does not match its original.
    #[error("{0}")]
    Mismatch(String),
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(e: tokio::task::JoinError) -> StoreError {
        StoreError::Io(std::io::Error::other(e))
    }
}

impl From<reqwest::Error> for StoreError {
    fn from(e: reqwest::Error) -> StoreError {
        StoreError::S3(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A region as configured: where its objects live and under which jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionSpec {
    pub name: String,
    /// `file:///path`, `s3://bucket?endpoint=http://host:9000&region=eu-central-1`, or
    /// empty for `<data>/regions/<name>/`.
    pub storage: String,
    /// A label for people: "EU", "CH", "US-CA".
    pub jurisdiction: String,
}

/// One region: its store, and (for local directories) the directory behind it.
#[derive(Debug, Clone)]
pub struct Region {
    pub name: String,
    pub jurisdiction: String,
    /// Where it is, for people (`file:///...`, `s3://bucket at http://...`), no secrets.
    pub location: String,
    pub store: Arc<dyn ObjectStore>,
    root: Option<std::path::PathBuf>,
    /// For S3 buckets: how to reach older versions of objects.
    s3: Option<versions::S3Bucket>,
}

/// The object stores of every configured region, which one is primary (new
/// accounts live there) and which one holds backups and replicas.
#[derive(Clone, Debug)]
pub struct Regions {
    regions: std::collections::BTreeMap<String, Region>,
    pub primary: String,
    pub backup: Option<String>,
    /// Regions whose store failed recently: name -> (since ms, what failed).
    failing: Arc<std::sync::Mutex<HashMap<String, (i64, String)>>>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Opens the store a region's `storage` names.
type Opened = (Arc<dyn ObjectStore>, Option<std::path::PathBuf>, String, Option<versions::S3Bucket>);

fn open_store(data: &Path, spec: &RegionSpec) -> Result<Opened> {
    let s = spec.storage.trim();
    if s.is_empty() || s.starts_with("file://") {
        let dir = if s.is_empty() { data.join("regions").join(&spec.name) } else { std::path::PathBuf::from(&s["file://".len()..]) };
        std::fs::create_dir_all(&dir)?;
        let store = LocalFileSystem::new_with_prefix(&dir)?;
        let location = format!("file://{}", dir.display());
        return Ok((Arc::new(store), Some(dir), location, None));
    }
    #[cfg(not(feature = "s3"))]
    if s.starts_with("s3://") {
        return Err(StoreError::Config(format!("region {}: this kinora was built without S3 support (cargo feature `s3`)", spec.name)));
    }
    #[cfg(feature = "s3")]
    if let Some(rest) = s.strip_prefix("s3://") {
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        if bucket.is_empty() || bucket.contains('/') {
            return Err(StoreError::Config(format!("region {}: {s:?} names no bucket (s3://BUCKET?endpoint=...&region=...)", spec.name)));
        }
        // Credentials come from the usual AWS_* variables.
        let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        let mut endpoint = String::new();
        let mut s3_region = std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")).unwrap_or_else(|_| "us-east-1".into());
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "endpoint" => {
                    endpoint = v.to_owned();
                    b = b.with_endpoint(v).with_allow_http(v.starts_with("http://")).with_virtual_hosted_style_request(false);
                }
                "region" => {
                    s3_region = v.to_owned();
                    b = b.with_region(v);
                }
                other => return Err(StoreError::Config(format!("region {}: unknown storage option {other:?} (endpoint, region)", spec.name))),
            }
        }
        let store = b.build().map_err(|e| StoreError::Config(format!("region {}: {e}", spec.name)))?;
        let at = if endpoint.is_empty() { String::new() } else { format!(" at {endpoint}") };
        let versions = versions::S3Bucket {
            endpoint: if endpoint.is_empty() { format!("https://s3.{s3_region}.amazonaws.com") } else { endpoint },
            bucket: bucket.to_owned(),
            region: s3_region,
            access_key: std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
            secret_key: std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
            session_token: std::env::var("AWS_SESSION_TOKEN").ok(),
        };
        return Ok((Arc::new(store), None, format!("s3://{bucket}{at}"), Some(versions)));
    }
    Err(StoreError::Config(format!("region {}: storage {s:?} is neither file:///PATH nor s3://BUCKET?endpoint=...", spec.name)))
}

impl Regions {
    /// Opens every region; `primary` and `backup` must be among them.
    pub fn open(data: &Path, specs: &[RegionSpec], primary: &str, backup: Option<&str>) -> Result<Regions> {
        let mut regions = std::collections::BTreeMap::new();
        for spec in specs {
            let (store, root, location, s3) = open_store(data, spec)?;
            regions.insert(spec.name.clone(), Region { name: spec.name.clone(), jurisdiction: spec.jurisdiction.clone(), location, store, root, s3 });
        }
        if !regions.contains_key(primary) {
            return Err(StoreError::Config(format!("residency.primary {primary:?} is not a configured region")));
        }
        if let Some(b) = backup {
            if !regions.contains_key(b) {
                return Err(StoreError::Config(format!("residency.backup {b:?} is not a configured region")));
            }
            if b == primary {
                return Err(StoreError::Config("residency.backup must differ from residency.primary".into()));
            }
        }
        Ok(Regions { regions, primary: primary.to_owned(), backup: backup.map(str::to_owned), failing: Default::default() })
    }

    /// Local directories under `data/regions/`, the first one primary, no backup.
    pub fn local(data: &Path, names: &[&str]) -> Result<Regions> {
        let specs: Vec<RegionSpec> = names.iter().map(|n| RegionSpec { name: (*n).to_owned(), storage: String::new(), jurisdiction: String::new() }).collect();
        Regions::open(data, &specs, names.first().copied().unwrap_or("local"), None)
    }

    pub fn all(&self) -> impl Iterator<Item = &Region> {
        self.regions.values()
    }

    pub fn region(&self, name: &str) -> Result<&Region> {
        self.regions.get(name).ok_or_else(|| StoreError::UnknownRegion(name.to_owned()))
    }

    pub fn get(&self, region: &str) -> Result<&Arc<dyn ObjectStore>> {
        Ok(&self.region(region)?.store)
    }

    /// Where the replica of an object in `home` goes: the backup region, unless
    /// home is the backup region or there is none.
    pub fn backup_of(&self, home: &str) -> Option<&str> {
        self.backup.as_deref().filter(|b| *b != home)
    }

    /// Stores a local file under `k` in `region` and returns once the object is
    /// durable: on local regions the file and its directories are fsynced (S3
    /// acknowledges a PUT only once it is stored). Callers delete their source only
    /// after this returns, so an acknowledged upload survives a power failure.
    pub async fn put_durable(&self, region: &str, k: &str, file: &Path) -> Result<u64> {
        let r = self.region(region)?;
        let n = self.watch(region, put_file(&r.store, k, file).await)?;
        if let Some(root) = r.root.clone() {
            let path = root.join(k);
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                std::fs::File::open(&path)?.sync_all()?;
                // The rename into place and any directories it created.
                let mut dir = path.parent();
                while let Some(d) = dir {
                    std::fs::File::open(d)?.sync_all()?;
                    if d == root.as_path() {
                        break;
                    }
                    dir = d.parent();
                }
                Ok(())
            })
            .await??;
        }
        Ok(n)
    }

    /// Deletes every version of every object under `prefix` in `region` (S3 buckets
    /// keep older versions when versioning is on; local directories keep none).
    pub async fn purge_versions(&self, region: &str, prefix: &str) -> Result<usize> {
        match &self.region(region)?.s3 {
            Some(b) => b.purge_versions(prefix).await,
            None => Ok(0),
        }
    }

    /// Deletes only the noncurrent versions and delete markers under `prefix`.
    pub async fn purge_noncurrent(&self, region: &str, prefix: &str) -> Result<usize> {
        match &self.region(region)?.s3 {
            Some(b) => b.purge_noncurrent(prefix).await,
            None => Ok(0),
        }
    }

    /// Keys with noncurrent versions or delete markers in `region` (S3 buckets with
    /// versioning; local directories keep none).
    pub async fn noncurrent_versions(&self, region: &str) -> Result<Vec<String>> {
        match &self.region(region)?.s3 {
            Some(b) => b.noncurrent_versions().await,
            None => Ok(Vec::new()),
        }
    }

    /// Records whether an operation on a region's store worked, for `/healthz`.
    pub fn watch<T>(&self, region: &str, r: Result<T>) -> Result<T> {
        if let Ok(mut f) = self.failing.lock() {
            match &r {
                Ok(_) => {
                    f.remove(region);
                }
                Err(e) => {
                    if !f.contains_key(region) {
                        tracing::error!(region, error = e.to_string(), "region store failing");
                    }
                    f.entry(region.to_owned()).or_insert_with(|| (now_ms(), e.to_string()));
                }
            }
        }
        r
    }

    /// Regions whose store failed most recently: (name, since ms, error).
    pub fn failing(&self) -> Vec<(String, i64, String)> {
        self.failing.lock().map(|f| f.iter().map(|(k, (t, e))| (k.clone(), *t, e.clone())).collect()).unwrap_or_default()
    }

    /// A byte range of an object in `home`, or from its replica in the backup region
    /// when the home store fails; the server keeps serving and reports the region.
    pub async fn get_range_with_fallback(
        &self,
        home: &str,
        k: &str,
        range: std::ops::Range<u64>,
    ) -> Result<futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>> {
        let first = self.watch(home, get_range(self.get(home)?, k, range.clone()).await);
        match (first, self.backup_of(home)) {
            (Ok(s), _) => Ok(s),
            (Err(e), Some(b)) => {
                tracing::warn!(region = home, backup = b, key = k, error = e.to_string(), "reading the backup replica");
                self.watch(b, get_range(self.get(b)?, k, range).await)
            }
            (Err(e), None) => Err(e),
        }
    }

    /// A whole object from `home`, or from the backup replica when home fails.
    pub async fn get_bytes_with_fallback(&self, home: &str, k: &str) -> Result<Bytes> {
        async fn bytes(store: &Arc<dyn ObjectStore>, k: &str) -> Result<Bytes> {
            Ok(store.get(&key(k)).await?.bytes().await?)
        }
        let first = self.watch(home, bytes(self.get(home)?, k).await);
        match (first, self.backup_of(home)) {
            (Ok(b), _) => Ok(b),
            (Err(_), Some(b)) => self.watch(b, bytes(self.get(b)?, k).await),
            (Err(e), None) => Err(e),
        }
    }

    /// An object as a stream of chunks with its size, from `home` or the backup
    /// replica: a download of any size holds one chunk in memory at a time.
    pub async fn get_stream_with_fallback(&self, home: &str, k: &str) -> Result<(u64, futures_util::stream::BoxStream<'static, object_store::Result<Bytes>>)> {
        async fn open(store: &Arc<dyn ObjectStore>, k: &str) -> Result<(u64, futures_util::stream::BoxStream<'static, object_store::Result<Bytes>>)> {
            let r = store.get(&key(k)).await?;
            Ok((r.meta.size, r.into_stream()))
        }
        let first = self.watch(home, open(self.get(home)?, k).await);
        match (first, self.backup_of(home)) {
            (Ok(s), _) => Ok(s),
            (Err(_), Some(b)) => self.watch(b, open(self.get(b)?, k).await),
            (Err(e), None) => Err(e),
        }
    }

    /// An object into a local file, from `home` or the backup replica.
    pub async fn get_to_file_with_fallback(&self, home: &str, k: &str, file: &Path) -> Result<u64> {
        let first = self.watch(home, get_to_file(self.get(home)?, k, file).await);
        match (first, self.backup_of(home)) {
            (Ok(n), _) => Ok(n),
            (Err(_), Some(b)) => self.watch(b, get_to_file(self.get(b)?, k, file).await),
            (Err(e), None) => Err(e),
        }
    }
}

/// Size and SHA-256 of an object, read as a stream.
pub async fn size_and_hash(store: &Arc<dyn ObjectStore>, k: &str) -> Result<(u64, String)> {
    use sha2::Digest;
    let mut stream = store.get(&key(k)).await?.into_stream();
    let mut h = sha2::Sha256::new();
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        n += chunk.len() as u64;
        h.update(&chunk);
    }
    Ok((n, hex::encode(h.finalize())))
}

/// Copies an object between stores (streamed in parts) and checks that the copy
/// has the source's size and SHA-256.
pub async fn copy_verified(from: &Arc<dyn ObjectStore>, to: &Arc<dyn ObjectStore>, k: &str) -> Result<u64> {
    let (n, sha) = size_and_hash(from, k).await?;
    let mut stream = from.get(&key(k)).await?.into_stream();
    let upload = to.put_multipart(&key(k)).await?;
    let mut w = WriteMultipart::new_with_chunk_size(upload, 8 << 20);
    while let Some(chunk) = stream.next().await {
        w.wait_for_capacity(4).await?;
        w.put(chunk?);
    }
    w.finish().await?;
    let (m, sha2) = size_and_hash(to, k).await?;
    if (m, &sha2) != (n, &sha) {
        return Err(StoreError::Mismatch(format!("replica of {k} is {m} bytes {sha2}, the original {n} bytes {sha}")));
    }
    Ok(n)
}

pub fn key(s: &str) -> ObjPath {
    ObjPath::from(s)
}

/// Streams a local file into the store in 8 MiB parts.
pub async fn put_file(store: &Arc<dyn ObjectStore>, k: &str, file: &Path) -> Result<u64> {
    let mut f = tokio::fs::File::open(file).await?;
    let len = f.metadata().await?.len();
    if len <= 8 << 20 {
        let mut buf = Vec::with_capacity(len as usize);
        f.read_to_end(&mut buf).await?;
        store.put(&key(k), PutPayload::from(buf)).await?;
        return Ok(len);
    }
    let upload = store.put_multipart(&key(k)).await?;
    let mut w = WriteMultipart::new_with_chunk_size(upload, 8 << 20);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        w.wait_for_capacity(4).await?;
        w.write(buf.get(..n).unwrap_or_default());
    }
    w.finish().await?;
    Ok(len)
}

/// Streams an object into a local file.
pub async fn get_to_file(store: &Arc<dyn ObjectStore>, k: &str, file: &Path) -> Result<u64> {
    let r = store.get(&key(k)).await?;
    let mut stream = r.into_stream();
    let mut out = tokio::fs::File::create(file).await?;
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        n += chunk.len() as u64;
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    Ok(n)
}

/// A byte stream of `range` (inclusive start, exclusive end) of an object.
///
/// For local directories object_store hands back the open file; reading it here in
/// blocks of up to 1 MiB is several times faster than its generic 8 KiB-chunk stream.
/// Remote stores stream as they come.
pub async fn get_range(
    store: &Arc<dyn ObjectStore>,
    k: &str,
    range: std::ops::Range<u64>,
) -> Result<futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>> {
    use futures_util::TryStreamExt;
    let opts = GetOptions { range: Some(GetRange::Bounded(range.clone())), ..Default::default() };
    let r = store.get_opts(&key(k), opts).await?;
    match r.payload {
        object_store::GetResultPayload::File(file, _) => {
            // Positioned reads straight into the buffer that is sent: one copy.
            let file = Arc::new(file);
            let chunk = (range.end - range.start).clamp(64 * 1024, 1024 * 1024);
            let stream = futures_util::stream::try_unfold(range.start, move |pos| {
                let file = file.clone();
                let end = range.end;
                async move {
                    if pos >= end {
                        return Ok(None);
                    }
                    let n = (end - pos).min(chunk) as usize;
                    let buf = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
                        use std::os::unix::fs::FileExt;
                        let mut buf = vec![0u8; n];
                        file.read_exact_at(&mut buf, pos)?;
                        Ok(buf)
                    })
                    .await
                    .map_err(std::io::Error::other)??;
                    Ok(Some((Bytes::from(buf), pos + n as u64)))
                }
            });
            Ok(stream.boxed())
        }
        object_store::GetResultPayload::Stream(s) => Ok(s.map_err(std::io::Error::other).boxed()),
    }
}

/// Deletes an object; a missing object is not an error (deletes are retried).
pub async fn delete(store: &Arc<dyn ObjectStore>, k: &str) -> Result<()> {
    match store.delete(&key(k)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Every object of a store with its size.
pub async fn list_all(store: &Arc<dyn ObjectStore>) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let mut s = store.list(None);
    while let Some(m) = s.next().await {
        let m = m?;
        out.push((m.location.to_string(), m.size));
    }
    out.sort();
    Ok(out)
}

/// Keys under `prefix` with their last-modified time in ms.
pub async fn list(store: &Arc<dyn ObjectStore>, prefix: &str) -> Result<Vec<(String, i64)>> {
    let p = key(prefix);
    let mut out = Vec::new();
    let mut s = store.list(Some(&p));
    while let Some(m) = s.next().await {
        let m = m?;
        out.push((m.location.to_string(), m.last_modified.timestamp_millis()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {

    use super::*;
    use futures_util::TryStreamExt;

    #[tokio::test]
    async fn verified_copies_between_regions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let regions = Regions::local(dir.path(), &["a", "b"]).expect("regions");
        let src = dir.path().join("src");
        std::fs::write(&src, vec![7u8; 9 << 20]).expect("write");
        regions.put_durable("a", "media/v/x", &src).await.expect("put");
        let n = copy_verified(regions.get("a").expect("a"), regions.get("b").expect("b"), "media/v/x").await.expect("copy");
        assert_eq!(n, 9 << 20);
        assert_eq!(size_and_hash(regions.get("b").expect("b"), "media/v/x").await.expect("hash").0, 9 << 20);
        assert!(copy_verified(regions.get("a").expect("a"), regions.get("b").expect("b"), "media/v/missing").await.is_err());
    }

    #[tokio::test]
    async fn ranges_across_chunk_boundaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let regions = Regions::local(dir.path(), &["r"]).expect("regions");
        let store = regions.get("r").expect("store");
        let data: Vec<u8> = (0..3 * 1024 * 1024 + 123).map(|i: u32| (i.wrapping_mul(2654435761) >> 7) as u8).collect();
        let src = dir.path().join("src");
        std::fs::write(&src, &data).expect("write");
        assert_eq!(put_file(store, "media/x/a", &src).await.expect("put"), data.len() as u64);
        for (a, b) in [(0, data.len()), (100, data.len() - 7), (1024 * 1024 - 1, 1024 * 1024 + 1), (5, 6)] {
            let got: Vec<u8> = get_range(store, "media/x/a", a as u64..b as u64).await.expect("get").try_collect::<Vec<Bytes>>().await.expect("read").concat();
            assert_eq!(got, &data[a..b], "range {a}..{b}");
        }
        assert_eq!(list(store, "media/x").await.expect("list").len(), 1);
        delete(store, "media/x/a").await.expect("delete");
        delete(store, "media/x/a").await.expect("deleting twice is fine");
    }
}
