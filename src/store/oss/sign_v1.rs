//! OSS V1 signatures (`OSS AccessKeyId:Signature`, HMAC-SHA1), header form.
//!
//! Deprecated by Aliyun and refused for new accounts and buckets; used only when
//! `store.oss.signature = "v1"` is chosen for an old bucket or an on-premise
//! OSS-compatible gateway that never learned V4 (`sign.rs`). The algorithm:
//!
//! ```text
//! Signature    = base64(HMAC-SHA1(Secret, Verb \n Content-MD5 \n Content-Type \n Date \n
//!                                 CanonicalizedOSSHeaders CanonicalizedResource))
//! OSS headers  = every x-oss-* header, lower-cased, sorted, "name:value\n" each
//! Resource     = /bucket/key (raw, not percent-encoded), then the sub-resources among the
//!                query parameters, sorted, as ?a&b=c (raw values)
//! ```
//!
//! Only the query parameters OSS counts as sub-resources are signed ([`SUB_RESOURCES`]);
//! `prefix`, `max-keys`, `list-type` and the like are not. An STS token travels in
//! `x-oss-security-token`, so it is signed as an OSS header. The tests check a published
//! example and, for many requests, the official SDK's `SignerV1`.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::sign::{Credentials, Request, Signed};

/// The query parameters OSS signs in V1, sorted: the list of Aliyun's SDKs (`oss2`'s and
/// `alibabacloud-oss-v2`'s, which also passes some per operation, e.g. `lifecycle`, `worm`).
/// A parameter missing here that the server signs, or the reverse, fails as
/// SignatureDoesNotMatch, so it covers every one camvault sends.
pub const SUB_RESOURCES: &[&str] = &[
    "acl",
    "append",
    "bucketInfo",
    "callback",
    "callback-var",
    "cname",
    "comp",
    "continuation-token",
    "cors",
    "delete",
    "endTime",
    "img",
    "lifecycle",
    "live",
    "location",
    "logging",
    "objectMeta",
    "partNumber",
    "position",
    "qos",
    "referer",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "resourceGroup",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "security-token",
    "sequential",
    "startTime",
    "stat",
    "status",
    "style",
    "styleName",
    "symlink",
    "tagging",
    "udf",
    "udfApplication",
    "udfApplicationLog",
    "udfId",
    "udfImage",
    "udfImageDesc",
    "udfName",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "vod",
    "website",
    "worm",
    "wormExtend",
    "wormId",
    "x-oss-process",
];

/// `Thu, 17 Nov 2005 18:49:58 GMT`, the form of the `Date` header V1 signs.
pub fn http_date(time: jiff::Timestamp) -> String {
    time.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Signs `req` at `time`. `req.additional` is a V4 notion and is ignored.
pub fn sign(req: &Request, cred: &Credentials, time: jiff::Timestamp) -> Signed {
    let mut added: Vec<(String, String)> = vec![("Date".into(), http_date(time))];
    if let Some(t) = cred.security_token {
        added.push(("x-oss-security-token".into(), t.into()));
    }
    // Header values as sent: ours override the caller's of the same name. Values are
    // trimmed because HTTP drops the whitespace around them on the way.
    let mut all: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| !added.iter().any(|(a, _)| a.eq_ignore_ascii_case(k)))
        .collect();
    all.extend(added.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())));
    let get = |name: &str| all.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str());

    let mut oss_headers: Vec<&(String, String)> = all.iter().filter(|(k, _)| k.starts_with("x-oss-")).collect();
    oss_headers.sort_by(|a, b| a.0.cmp(&b.0));
    let oss_headers: String = oss_headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();

    let mut resource = String::from("/");
    if let Some(b) = req.bucket {
        resource.push_str(b);
        resource.push('/');
    }
    if let Some(k) = req.key {
        resource.push_str(k);
    }
    let mut sub: Vec<(&str, &str)> = req
        .query
        .iter()
        .filter(|(k, _)| SUB_RESOURCES.contains(k))
        .copied()
        .collect();
    sub.sort();
    if !sub.is_empty() {
        let parts: Vec<String> = sub
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.to_string()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        resource.push('?');
        resource.push_str(&parts.join("&"));
    }

    let string_to_sign = format!(
        "{}\n{}\n{}\n{}\n{oss_headers}{resource}",
        req.method,
        get("content-md5"),
        get("content-type"),
        get("date"),
    );
    let mut mac = Hmac::<Sha1>::new_from_slice(cred.access_key_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    added.push((
        "Authorization".into(),
        format!("OSS {}:{signature}", cred.access_key_id),
    ));
    Signed {
        headers: added,
        string_to_sign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(s: &Signed) -> &str {
        &s.headers.iter().find(|(k, _)| k == "Authorization").unwrap().1
    }

    /// The example of Aliyun's API reference ("Include signatures in the Authorization
    /// header", the edition with AccessKeyId 44CF9590006BF252F707), as other OSS clients'
    /// tests reproduce it; the expected value was recomputed with Python's hmac.
    #[test]
    fn published_example() {
        let req = Request {
            method: "PUT",
            bucket: Some("oss-example"),
            key: Some("nelson"),
            query: &[],
            headers: &[
                ("Content-Md5", "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM="),
                ("Content-Type", "text/html"),
                ("X-OSS-Meta-Author", "foo@bar.com"),
                ("X-OSS-Magic", "abracadabra"),
                ("Host", "oss-example.oss-cn-hangzhou.aliyuncs.com"),
            ],
            additional: &[],
        };
        let cred = Credentials {
            access_key_id: "44CF9590006BF252F707",
            access_key_secret: "OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV",
            security_token: None,
        };
        // Thu, 17 Nov 2005 18:49:58 GMT
        let s = sign(&req, &cred, jiff::Timestamp::from_second(1_132_253_398).unwrap());
        assert_eq!(
            s.string_to_sign,
            "PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\nThu, 17 Nov 2005 18:49:58 GMT\n\
             x-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n/oss-example/nelson"
        );
        assert_eq!(auth(&s), "OSS 44CF9590006BF252F707:26NBxoKdsyly4EDv6inkoDft/yA=");
        assert_eq!(s.headers[0], ("Date".into(), "Thu, 17 Nov 2005 18:49:58 GMT".into()));
    }

    #[test]
    fn sub_resources_signed_other_parameters_not() {
        let req = Request {
            method: "GET",
            bucket: Some("b"),
            key: Some("夜 1.mp4"),
            query: &[("partNumber", "7"), ("max-parts", "1000"), ("uploadId", "0A")],
            headers: &[],
            additional: &[],
        };
        let cred = Credentials {
            access_key_id: "ak",
            access_key_secret: "sk",
            security_token: Some("tok"),
        };
        let s = sign(&req, &cred, jiff::Timestamp::from_second(0).unwrap());
        assert_eq!(
            s.string_to_sign,
            "GET\n\n\nThu, 01 Jan 1970 00:00:00 GMT\nx-oss-security-token:tok\n/b/夜 1.mp4?partNumber=7&uploadId=0A"
        );
        assert!(s.headers.contains(&("x-oss-security-token".into(), "tok".into())));
        let bucket = Request {
            method: "GET",
            bucket: Some("b"),
            key: None,
            query: &[("list-type", "2"), ("prefix", "videos/"), ("max-keys", "1")],
            headers: &[],
            additional: &[],
        };
        let s = sign(&bucket, &cred, jiff::Timestamp::from_second(0).unwrap());
        assert!(s.string_to_sign.ends_with("\n/b/"), "{}", s.string_to_sign);
    }

    #[test]
    fn sub_resource_list_is_sorted_and_unique() {
        assert!(SUB_RESOURCES.windows(2).all(|w| w[0] < w[1]));
    }

    /// Requests camvault makes, signed by us and by the official Python SDK's SignerV1.
    #[test]
    fn agrees_with_the_official_python_sdk() {
        let md5 = "1B2M2Y8AsgTpgAEizZ8Eww==";
        // (method, key, query, headers, token): the shapes of every request the backend sends.
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            &'a [(&'a str, &'a str)],
            &'a [(&'a str, &'a str)],
            Option<&'a str>,
        );
        let cases: &[Case] = &[
            (
                "PUT",
                Some("videos/door/2024-05-21/13/05M30S_1716267930.mp4"),
                &[],
                &[
                    ("x-oss-storage-class", "Standard"),
                    ("x-oss-forbid-overwrite", "true"),
                    ("content-type", "application/octet-stream"),
                ],
                None,
            ),
            (
                "PUT",
                Some("a b/夜间 录像+x=y&z.mp4"),
                &[],
                &[("X-Oss-Forbid-Overwrite", "true"), ("Content-Type", "video/mp4")],
                Some("sts-token/with+chars="),
            ),
            (
                "GET",
                Some("videos/x.mp4"),
                &[
                    ("max-parts", "1000"),
                    ("uploadId", "0004B9895DBBB6EC9"),
                    ("partNumber", "3"),
                ],
                &[],
                None,
            ),
            (
                "PUT",
                Some("videos/x.mp4"),
                &[("partNumber", "12"), ("uploadId", "ABC")],
                &[],
                Some("t"),
            ),
            (
                "POST",
                Some("videos/x.mp4"),
                &[("restore", "")],
                &[("content-type", "application/xml")],
                Some("sts-token/with+chars="),
            ),
            (
                "POST",
                Some("videos/x.mp4"),
                &[("uploads", "")],
                &[("x-oss-storage-class", "Standard")],
                None,
            ),
            ("GET", None, &[("lifecycle", "")], &[], None),
            (
                "PUT",
                None,
                &[("lifecycle", "")],
                &[("content-md5", md5), ("content-type", "application/xml")],
                Some("t"),
            ),
            (
                "GET",
                None,
                &[
                    ("list-type", "2"),
                    ("prefix", "videos/"),
                    ("max-keys", "1000"),
                    ("continuation-token", "a+b/c="),
                ],
                &[],
                None,
            ),
            ("GET", None, &[("prefix", "videos/x.mp4"), ("uploads", "")], &[], None),
            ("GET", None, &[("worm", "")], &[], None),
            ("POST", None, &[("wormId", "1666E2CFB2B3418****")], &[], Some("t")),
            ("HEAD", Some("~tilde/%FF.bin"), &[], &[("range", "bytes=0-9")], None),
            ("DELETE", Some("camvault-probe/1-2"), &[], &[], None),
        ];
        let cred = |token| Credentials {
            access_key_id: "LTAI5tExample",
            access_key_secret: "secret/with+chars=",
            security_token: token,
        };
        let mut expected = Vec::new();
        let mut json = Vec::new();
        for (i, (method, key, query, headers, token)) in cases.iter().enumerate() {
            let time = 1_700_000_000 + i as i64 * 7919;
            let req = Request {
                method,
                bucket: Some("cam-archive"),
                key: *key,
                query,
                headers,
                additional: &[],
            };
            expected.push(auth(&sign(&req, &cred(*token), jiff::Timestamp::from_second(time).unwrap())).to_string());
            json.push(serde_json::json!({
                "method": method, "key": key, "query": query, "headers": headers, "token": token, "time": time,
            }));
        }
        // The SDK sends an STS token as `security-token`, outside the signed headers; OSS's
        // reference puts it in `x-oss-security-token`, signed, as camvault does. So the SDK is
        // given the header ready-made (it then signs it like any x-oss-* header).
        // It also signs `lifecycle`, `worm` and `wormId` only when the operation names
        // them (`sub_resource`), as its bucket operations do.
        let script = r#"
import json, sys, datetime
from urllib.parse import quote
from alibabacloud_oss_v2.signer.v1 import SignerV1
from alibabacloud_oss_v2.types import SigningContext, HttpRequest, Credentials
out = []
for c in json.load(sys.stdin):
    q = '&'.join(quote(k, safe='') + ('=' + quote(v, safe='') if v else '') for k, v in c['query'])
    path = quote(c['key'], safe='/') if c['key'] else ''
    url = 'https://cam-archive.oss-cn-beijing.aliyuncs.com/' + path + ('?' + q if q else '')
    headers = {k: v for k, v in c['headers']}
    if c['token']:
        headers['x-oss-security-token'] = c['token']
    req = HttpRequest(c['method'], url, headers=headers)
    ctx = SigningContext(product='oss', region='cn-beijing', bucket='cam-archive', key=c['key'], request=req,
        credentials=Credentials('LTAI5tExample', 'secret/with+chars='),
        signing_time=datetime.datetime.fromtimestamp(c['time'], datetime.timezone.utc))
    ctx.sub_resource = ['lifecycle', 'worm', 'wormId']
    SignerV1().sign(ctx)
    out.append(req.headers['Authorization'])
json.dump(out, sys.stdout)
"#;
        let theirs = crate::store::oss::sign::tests::sdk_sign(script, &json);
        assert_eq!(theirs.len(), expected.len());
        for (i, (ours, theirs)) in expected.iter().zip(&theirs).enumerate() {
            assert_eq!(ours, theirs, "case {i}: {}", json[i]);
        }
    }
}
