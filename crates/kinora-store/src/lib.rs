//! Kinora's object storage: media objects, one store per region. The embedded default is a directory per
//! region under the data dir (`regions/<name>/`); handlers only see [`Regions`] and
//! [`object_store::ObjectStore`], so an S3-compatible bucket per region slots in
//! without touching them.
//!
//! Keys: `originals/<video>` (private, never served), `media/<video>/<name>`.

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The object stores of every configured region.
#[derive(Clone, Debug)]
pub struct Regions {
    stores: HashMap<String, Arc<dyn ObjectStore>>,
    /// The directory behind each local region, to make writes durable (object_store's
    /// local store renames into place without fsync).
    roots: HashMap<String, std::path::PathBuf>,
}

impl Regions {
    /// Local directories under `data/regions/`.
    pub fn local(data: &Path, names: &[&str]) -> anyhow::Result<Regions> {
        let mut stores: HashMap<String, Arc<dyn ObjectStore>> = HashMap::new();
        let mut roots = HashMap::new();
        for name in names {
            let dir = data.join("regions").join(name);
            std::fs::create_dir_all(&dir)?;
            let store = LocalFileSystem::new_with_prefix(&dir)?;
            stores.insert((*name).to_owned(), Arc::new(store));
            roots.insert((*name).to_owned(), dir);
        }
        Ok(Regions { stores, roots })
    }

    /// Stores a local file under `k` in `region` and returns once the object is
    /// durable: on local regions the file and its directories are fsynced (S3
    /// acknowledges a PUT only once it is stored). Callers delete their source only
    /// after this returns, so an acknowledged upload survives a power failure.
    pub async fn put_durable(&self, region: &str, k: &str, file: &Path) -> anyhow::Result<u64> {
        let n = put_file(self.get(region)?, k, file).await?;
        if let Some(root) = self.roots.get(region).cloned() {
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

    pub fn get(&self, region: &str) -> anyhow::Result<&Arc<dyn ObjectStore>> {
        self.stores.get(region).ok_or_else(|| anyhow::anyhow!("region {region:?} is not configured"))
    }
}

pub fn key(s: &str) -> ObjPath {
    ObjPath::from(s)
}

/// Streams a local file into the store in 8 MiB parts.
pub async fn put_file(store: &Arc<dyn ObjectStore>, k: &str, file: &Path) -> anyhow::Result<u64> {
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
        w.write(&buf[..n]);
    }
    w.finish().await?;
    Ok(len)
}

/// Streams an object into a local file.
pub async fn get_to_file(store: &Arc<dyn ObjectStore>, k: &str, file: &Path) -> anyhow::Result<u64> {
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
) -> anyhow::Result<futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>> {
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
pub async fn delete(store: &Arc<dyn ObjectStore>, k: &str) -> anyhow::Result<()> {
    match store.delete(&key(k)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Keys under `prefix` with their last-modified time in ms.
pub async fn list(store: &Arc<dyn ObjectStore>, prefix: &str) -> anyhow::Result<Vec<(String, i64)>> {
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
    async fn ranges_across_chunk_boundaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let regions = Regions::local(dir.path(), &["r"]).expect("regions");
        let store = regions.get("r").expect("store");
        let data: Vec<u8> = (0..3 * 1024 * 1024 + 123).map(|i: u32| (i.wrapping_mul(2654435761) >> 7) as u8).collect();
        let src = dir.path().join("src");
        std::fs::write(&src, &data).expect("write");
        assert_eq!(put_file(store, "media/x/a", &src).await.expect("put"), data.len() as u64);
        for (a, b) in [(0, data.len()), (100, data.len() - 7), (1024 * 1024 - 1, 1024 * 1024 + 1), (5, 6)] {
            let got: Vec<u8> = get_range(store, "media/x/a", a as u64..b as u64)
                .await
                .expect("get")
                .try_collect::<Vec<Bytes>>()
                .await
                .expect("read")
                .concat();
            assert_eq!(got, &data[a..b], "range {a}..{b}");
        }
        assert_eq!(list(store, "media/x").await.expect("list").len(), 1);
        delete(store, "media/x/a").await.expect("delete");
        delete(store, "media/x/a").await.expect("deleting twice is fine");
    }
}
