//! The access keys this server accepts.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key: String,
    pub secret_key: String,
}

#[derive(Debug, Clone, Default)]
pub struct Credentials {
    by_access_key: HashMap<String, String>,
}

impl Credentials {
    pub fn new(list: &[Credential]) -> Credentials {
        Credentials {
            by_access_key: list
                .iter()
                .map(|c| (c.access_key.clone(), c.secret_key.clone()))
                .collect(),
        }
    }

    pub fn secret_for(&self, access_key: &str) -> Option<&str> {
        self.by_access_key.get(access_key).map(String::as_str)
    }
}
