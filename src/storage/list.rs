//! One page of a bucket listing, in S3 order, costing O(page): the scan starts at the prefix or
//! the start-after key, and each CommonPrefix is skipped with one seek past everything under it.

use std::ops::Bound;

use super::keys::{after_prefix, bucket_prefix, object_key};
use super::records::{decode_prefix, ObjectSummary};
use super::{StorageError, StorageResult, Store};

#[derive(Debug, Clone, Default)]
pub struct ListQuery<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    /// None or non-empty.
    pub delimiter: Option<&'a str>,
    /// Exclusive lower bound (marker / start-after / decoded continuation token).
    pub start_after: Option<&'a str>,
    pub max_keys: usize,
}

#[derive(Debug, Clone)]
pub enum ListEntry {
    Object { key: String, summary: ObjectSummary },
    CommonPrefix(String),
}

impl ListEntry {
    /// The key or prefix; the last one of a truncated page is where the next page starts.
    pub fn name(&self) -> &str {
        match self {
            ListEntry::Object { key, .. } => key,
            ListEntry::CommonPrefix(p) => p,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub entries: Vec<ListEntry>,
    pub is_truncated: bool,
}

impl Store {
    pub fn list_objects(&self, q: &ListQuery<'_>) -> StorageResult<ListPage> {
        let mut page = ListPage::default();
        if q.max_keys == 0 {
            return Ok(page);
        }
        let bucket_start = bucket_prefix(q.bucket);
        let prefix_start = object_key(q.bucket, q.prefix);
        let mut seek = match q.start_after.map(|sa| object_key(q.bucket, sa)) {
            Some(sa) if sa >= prefix_start => Bound::Excluded(sa),
            _ => Bound::Included(prefix_start),
        };
        'scan: loop {
            for item in self.inner.objects.range((seek.clone(), Bound::Unbounded)) {
                let (raw_key, value) = item?;
                let Some(key_bytes) = raw_key.strip_prefix(bucket_start.as_slice()) else {
                    break 'scan;
                };
                let key = std::str::from_utf8(key_bytes)
                    .map_err(|_| StorageError::Corrupt("object key is not UTF-8".into()))?;
                if !key.starts_with(q.prefix) {
                    break 'scan;
                }
                if let Some(common) = common_prefix(key, q.prefix, q.delimiter) {
                    if q.start_after.is_none_or(|sa| common > sa) {
                        if page.entries.len() == q.max_keys {
                            page.is_truncated = true;
                            break 'scan;
                        }
                        page.entries
                            .push(ListEntry::CommonPrefix(common.to_owned()));
                    }
                    seek = Bound::Included(after_prefix(q.bucket, common));
                    continue 'scan;
                }
                if page.entries.len() == q.max_keys {
                    page.is_truncated = true;
                    break 'scan;
                }
                page.entries.push(ListEntry::Object {
                    key: key.to_owned(),
                    summary: decode_prefix(&value)?,
                });
            }
            break;
        }
        Ok(page)
    }
}

/// The CommonPrefix a key rolls up into: the prefix plus everything up to and including the
/// first delimiter after it.
pub(super) fn common_prefix<'k>(
    key: &'k str,
    prefix: &str,
    delimiter: Option<&str>,
) -> Option<&'k str> {
    let delimiter = delimiter?;
    let rest = &key[prefix.len()..];
    rest.find(delimiter)
        .map(|i| &key[..prefix.len() + i + delimiter.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefix_rolls_up_at_first_delimiter_after_prefix() {
        assert_eq!(common_prefix("a/b/c", "", Some("/")), Some("a/"));
        assert_eq!(common_prefix("a/b/c", "a/", Some("/")), Some("a/b/"));
        assert_eq!(common_prefix("a/b", "a/", None), None);
        assert_eq!(common_prefix("x--y--z", "", Some("--")), Some("x--"));
        assert_eq!(common_prefix("plain", "", Some("/")), None);
    }
}
