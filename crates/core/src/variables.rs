//! A conversation's variables (pre-chat answers, the page, the system's own) as its snapshot
//! keeps them: a few pairs in a sorted vector. A `BTreeMap` allocates a node for 11 pairs
//! (~540 bytes) even for one, and every waiting chat holds its snapshot in memory
//! (heaptrack of 5,000 idle chats, docs/benchmarks.md). Written and read as a JSON object
//! with its keys in order, exactly as the map was.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variables(Vec<(String, String)>);

impl Variables {
    pub fn get(&self, key: &str) -> Option<&String> {
        self.find(key).ok().map(|at| &self.0[at].1)
    }

    /// Sets `key` to `value`, adding the pair if it is new.
    pub fn set(&mut self, key: &str, value: String) {
        match self.find(key) {
            Ok(at) => self.0[at].1 = value,
            Err(at) => self.0.insert(at, (key.to_string(), value)),
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The same pairs as a map (what frames and templates take).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }
}

impl From<&BTreeMap<String, String>> for Variables {
    fn from(map: &BTreeMap<String, String>) -> Self {
        // A map's pairs come in key order, without repeats.
        Variables(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

impl Serialize for Variables {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Variables {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through a map, so that any order and a repeated key read as the map read them.
        Ok(Variables::from(&BTreeMap::<String, String>::deserialize(
            d,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few pairs kept in key order, read and written as the map they replace was.
    #[test]
    fn variables_behave_and_serialise_as_the_map_did() {
        let map = BTreeMap::from([
            ("system.page_url".to_string(), "https://x.test/".to_string()),
            ("order".to_string(), "42".to_string()),
        ]);
        let mut vars = Variables::from(&map);
        assert_eq!(vars.get("order").map(String::as_str), Some("42"));
        assert_eq!(vars.get("missing"), None);
        vars.set("system.queue", "Sales".into());
        vars.set("order", "43".into());
        vars.set("a", "first".into());
        let keys: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "order", "system.page_url", "system.queue"]);
        assert_eq!(vars.len(), 4);

        let mut expected = map.clone();
        expected.insert("system.queue".into(), "Sales".into());
        expected.insert("order".into(), "43".into());
        expected.insert("a".into(), "first".into());
        assert_eq!(vars.to_map(), expected);
        assert_eq!(
            serde_json::to_string(&vars).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
        let back: Variables = serde_json::from_str(r#"{"z": "1", "b": "2", "b": "3"}"#).unwrap();
        assert_eq!(
            back.to_map(),
            serde_json::from_str::<BTreeMap<String, String>>(r#"{"z": "1", "b": "2", "b": "3"}"#)
                .unwrap()
        );
        assert!(Variables::default().is_empty());
    }
}
