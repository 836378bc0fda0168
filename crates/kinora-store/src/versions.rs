//! Removing every version of objects from S3-compatible buckets that keep versions.
//!
//! object_store deletes the current object only; on a bucket with versioning, the
//! older versions (and a delete marker) remain. Erasure must not leave them, so this
//! module speaks the two S3 calls it needs itself: `ListObjectVersions` and
//! `DeleteObject?versionId=`, signed with AWS Signature Version 4. (object_store
//! keeps its signer private, and the AWS SDK would bring its whole runtime for two
//! requests; the signer is checked against AWS's published test vector below.)

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Where a bucket is and how to sign for it.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding as SigV4 wants it (`/` kept in paths).
fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The `Authorization` header value of a SigV4-signed request.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &str,
    host: &str,
    path: &str,
    query: &[(&str, &str)],
    amz_date: &str,
    region: &str,
    service: &str,
    access_key: &str,
    secret_key: &str,
    extra_headers: &[(&str, &str)],
    payload_sha256: &str,
) -> String {
    let mut q: Vec<(String, String)> = query.iter().map(|(k, v)| (encode(k, false), encode(v, false))).collect();
    q.sort();
    let canonical_query = q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let mut headers: Vec<(String, String)> = vec![("host".into(), host.to_owned()), ("x-amz-date".into(), amz_date.to_owned())];
    headers.extend(extra_headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned())));
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let canonical_request = format!("{method}\n{}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_sha256}", encode(path, true));
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));
    let k = hmac(&hmac(&hmac(&hmac(format!("AWS4{secret_key}").as_bytes(), date.as_bytes()), region.as_bytes()), service.as_bytes()), b"aws4_request");
    let signature = hex::encode(hmac(&k, string_to_sign.as_bytes()));
    format!("AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}")
}

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

impl S3Bucket {
    async fn request(&self, client: &reqwest::Client, method: reqwest::Method, path: &str, query: &[(&str, &str)]) -> crate::Result<String> {
        let url = reqwest::Url::parse(&self.endpoint).map_err(|e| crate::StoreError::Config(format!("S3 endpoint {:?}: {e}", self.endpoint)))?;
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let mut extra = vec![("x-amz-content-sha256", EMPTY_SHA256)];
        if let Some(t) = &self.session_token {
            extra.push(("x-amz-security-token", t.as_str()));
        }
        let auth = sign(method.as_str(), &host, path, query, &amz_date, &self.region, "s3", &self.access_key, &self.secret_key, &extra, EMPTY_SHA256);
        let qs = query.iter().map(|(k, v)| format!("{}={}", encode(k, false), encode(v, false))).collect::<Vec<_>>().join("&");
        let full = format!("{}{}{}", self.endpoint.trim_end_matches('/'), encode(path, true), if qs.is_empty() { String::new() } else { format!("?{qs}") });
        let mut req = client.request(method, full).header("x-amz-date", &amz_date).header("authorization", auth);
        for (k, v) in &extra {
            req = req.header(*k, *v);
        }
        let r = req.send().await?;
        let status = r.status();
        let body = r.text().await?;
        if !status.is_success() {
            return Err(crate::StoreError::S3(format!("{status}: {}", body.chars().take(300).collect::<String>())));
        }
        Ok(body)
    }

    /// Deletes every version and delete marker of every object under `prefix`;
    /// returns how many. Buckets without versioning answer with none or the current
    /// objects only, which are deleted as well.
    pub async fn purge_versions(&self, prefix: &str) -> crate::Result<usize> {
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?;
        let path = format!("/{}", self.bucket);
        let mut n = 0;
        for _round in 0..1000 {
            let body = self.request(&client, reqwest::Method::GET, &path, &[("prefix", prefix), ("versions", "")]).await?;
            let found = versions(&body);
            if found.is_empty() {
                return Ok(n);
            }
            for (key, version) in found {
                self.request(&client, reqwest::Method::DELETE, &format!("{path}/{key}"), &[("versionId", &version)]).await?;
                n += 1;
            }
        }
        Err(crate::StoreError::S3(format!("versions under {prefix:?} kept coming back")))
    }
}

impl S3Bucket {
    /// Keys of every noncurrent version and delete marker in the bucket (what a
    /// plain listing does not show but the bucket still keeps), a page at a time.
    pub async fn noncurrent_versions(&self) -> crate::Result<Vec<String>> {
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?;
        let path = format!("/{}", self.bucket);
        let mut out = Vec::new();
        let (mut key_marker, mut version_marker) = (String::new(), String::new());
        for _page in 0..10_000 {
            let mut q: Vec<(&str, &str)> = vec![("versions", "")];
            if !key_marker.is_empty() {
                q.push(("key-marker", &key_marker));
                q.push(("version-id-marker", &version_marker));
            }
            let body = self.request(&client, reqwest::Method::GET, &path, &q).await?;
            out.extend(noncurrent(&body));
            let tag = |name: &str| xml_tag(&body, name);
            if tag("IsTruncated").as_deref() != Some("true") {
                return Ok(out);
            }
            key_marker = tag("NextKeyMarker").unwrap_or_default();
            version_marker = tag("NextVersionIdMarker").unwrap_or_default();
            if key_marker.is_empty() {
                return Ok(out);
            }
        }
        Err(crate::StoreError::S3("the version listing did not end".into()))
    }
}

impl S3Bucket {
    /// Deletes the noncurrent versions and delete markers of objects under `prefix`,
    /// keeping each current version; returns how many.
    pub async fn purge_noncurrent(&self, prefix: &str) -> crate::Result<usize> {
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?;
        let path = format!("/{}", self.bucket);
        let body = self.request(&client, reqwest::Method::GET, &path, &[("prefix", prefix), ("versions", "")]).await?;
        let mut n = 0;
        for (key, version) in noncurrent_ids(&body) {
            self.request(&client, reqwest::Method::DELETE, &format!("{path}/{key}"), &[("versionId", &version)]).await?;
            n += 1;
        }
        Ok(n)
    }
}

/// The text of the first `<name>` element in `s`, unescaped.
fn xml_tag(s: &str, name: &str) -> Option<String> {
    let a = s.find(&format!("<{name}>"))? + name.len() + 2;
    let b = s[a..].find(&format!("</{name}>"))? + a;
    Some(unescape(&s[a..b]))
}

/// (key, version id, is the latest) of every `<Version>` and `<DeleteMarker>` in a
/// ListObjectVersions answer (a delete marker is never counted as the latest).
fn entries(xml: &str) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for kind in ["Version", "DeleteMarker"] {
        let (open, close) = (format!("<{kind}>"), format!("</{kind}>"));
        let mut rest = xml;
        while let Some(i) = rest.find(&open) {
            let Some(j) = rest[i..].find(&close) else { break };
            let item = &rest[i..i + j];
            if let (Some(k), Some(v)) = (xml_tag(item, "Key"), xml_tag(item, "VersionId")) {
                out.push((k, v, kind == "Version" && item.contains("<IsLatest>true</IsLatest>")));
            }
            rest = &rest[i + j + close.len()..];
        }
    }
    out
}

/// (key, version id) of noncurrent `<Version>`s and of `<DeleteMarker>`s.
fn noncurrent_ids(xml: &str) -> Vec<(String, String)> {
    entries(xml).into_iter().filter(|(_, _, latest)| !latest).map(|(k, v, _)| (k, v)).collect()
}

/// Keys of `<Version>`s that are not the latest, and of `<DeleteMarker>`s.
fn noncurrent(xml: &str) -> Vec<String> {
    noncurrent_ids(xml).into_iter().map(|(k, _)| k).collect()
}

/// (key, version id) of every `<Version>` and `<DeleteMarker>`.
fn versions(xml: &str) -> Vec<(String, String)> {
    entries(xml).into_iter().map(|(k, v, _)| (k, v)).collect()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published SigV4 example ("get-vanilla" of the signature test suite).
    #[test]
    fn signs_like_aws_test_vector() {
        let auth = sign(
            "GET",
            "example.amazonaws.com",
            "/",
            &[],
            "20150830T123600Z",
            "us-east-1",
            "service",
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            &[],
            EMPTY_SHA256,
        );
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn finds_noncurrent_versions() {
        let xml = "<ListVersionsResult><Version><Key>a</Key><VersionId>1</VersionId><IsLatest>true</IsLatest></Version>\
                   <Version><Key>a</Key><VersionId>0</VersionId><IsLatest>false</IsLatest></Version>\
                   <DeleteMarker><Key>b</Key><VersionId>2</VersionId><IsLatest>true</IsLatest></DeleteMarker></ListVersionsResult>";
        assert_eq!(noncurrent(xml), ["a", "b"]);
    }

    #[test]
    fn reads_versions_and_delete_markers() {
        let xml = "<ListVersionsResult><Version><Key>media/a&amp;b</Key><VersionId>v1</VersionId></Version>\
                   <DeleteMarker><Key>media/c</Key><VersionId>v2</VersionId></DeleteMarker></ListVersionsResult>";
        assert_eq!(versions(xml), [("media/a&b".to_owned(), "v1".to_owned()), ("media/c".to_owned(), "v2".to_owned())]);
    }
}
