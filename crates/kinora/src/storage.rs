//! Media objects, one store per region. The embedded default is a directory per
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
}

impl Regions {
    /// Local directories under `data/regions/`.
    pub fn local(data: &Path, names: &[&str]) -> anyhow::Result<Regions> {
        let mut stores: HashMap<String, Arc<dyn ObjectStore>> = HashMap::new();
        for name in names {
            let dir = data.join("regions").join(name);
            std::fs::create_dir_all(&dir)?;
            let store = LocalFileSystem::new_with_prefix(&dir)?;
            stores.insert((*name).to_owned(), Arc::new(store));
        }
        Ok(Regions { stores })
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
pub async fn get_range(
    store: &Arc<dyn ObjectStore>,
    k: &str,
    range: std::ops::Range<u64>,
) -> anyhow::Result<impl futures_util::Stream<Item = Result<Bytes, object_store::Error>>> {
    let opts = GetOptions { range: Some(GetRange::Bounded(range)), ..Default::default() };
    Ok(store.get_opts(&key(k), opts).await?.into_stream())
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
