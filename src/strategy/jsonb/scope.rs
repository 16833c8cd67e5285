//! Where a walk is inside a json value, and so which rule applies to the next leaf: the dotted path and the
//! inherited rule of each open container, kept on a heap stack (no recursion, any depth).

use super::{Rule, Spec};

/// One open container of a walk.
struct Frame<'s> {
    object: bool,
    /// Its dotted path from the top; `None` once longer than any declared dotted rule (no deeper path can match
    /// one, and keeping them would cost memory quadratic in the depth).
    path: Option<String>,
    /// The rule its leaves inherit.
    rule: Option<&'s Rule>,
    /// In an object: the key just read, and its value's path and rule.
    key: Option<String>,
    child: (Option<String>, Option<&'s Rule>),
    /// The frame whose key is the nearest one above this container's leaves.
    key_frame: Option<usize>,
}

/// Where a walk is inside a value, and so which rule applies to the next leaf.
pub(super) struct Scope<'s> {
    spec: &'s Spec,
    /// Length of the longest dotted rule path.
    longest_path: usize,
    frames: Vec<Frame<'s>>,
}

impl<'s> Scope<'s> {
    pub(super) fn new(spec: &'s Spec) -> Scope<'s> {
        let longest_path = spec
            .rules
            .iter()
            .filter(|(p, _)| p.contains('.'))
            .map(|(p, _)| p.len())
            .max()
            .unwrap_or(0);
        Scope {
            spec,
            longest_path,
            frames: Vec::new(),
        }
    }

    pub(super) fn begin(&mut self, object: bool) {
        let index = self.frames.len();
        let (path, rule, key_frame) = match self.frames.last() {
            None => (Some(String::new()), None, None),
            Some(f) if f.object => (f.child.0.clone(), f.child.1, Some(index - 1)),
            Some(f) => (f.path.clone(), f.rule, f.key_frame),
        };
        self.frames.push(Frame {
            object,
            path,
            rule,
            key: None,
            child: (None, None),
            key_frame: if object { Some(index) } else { key_frame },
        });
    }

    pub(super) fn end(&mut self) {
        self.frames.pop();
    }

    /// An object key: its value's rule is the one for its dotted path, else for its name, else inherited.
    pub(super) fn key(&mut self, key: &str) {
        let (spec, longest) = (self.spec, self.longest_path);
        let Some(frame) = self.frames.last_mut() else {
            return;
        };
        let path = frame.path.as_deref().and_then(|p| {
            let len = if p.is_empty() {
                key.len()
            } else {
                p.len() + 1 + key.len()
            };
            (len <= longest).then(|| {
                if p.is_empty() {
                    key.to_string()
                } else {
                    format!("{p}.{key}")
                }
            })
        });
        let by_path = path
            .as_deref()
            .and_then(|p| spec.rules.iter().find(|(r, _)| r == p));
        let by_name = || {
            spec.rules
                .iter()
                .find(|(r, _)| r == key && !r.contains('.'))
        };
        let rule = by_path.or_else(by_name).map(|(_, r)| r).or(frame.rule);
        frame.child = (path, rule);
        frame.key = Some(key.to_string());
    }

    /// The rule for a leaf read now.
    pub(super) fn leaf_rule(&self) -> &'s Rule {
        let rule = match self.frames.last() {
            Some(f) if f.object => f.child.1,
            Some(f) => f.rule,
            None => None,
        };
        rule.unwrap_or(&self.spec.default)
    }

    /// The nearest object key above a leaf read now.
    pub(super) fn nearest_key(&self) -> Option<&str> {
        let frame = self.frames.last()?.key_frame?;
        self.frames[frame].key.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_paths_are_kept_only_as_deep_as_a_rule() {
        let rules = json!({"keys": {"a.b": "keep"}, "default": "null"});
        let spec = parse(rules.as_object().unwrap()).unwrap();
        let mut scope = Scope::new(&spec);
        scope.begin(true);
        scope.key("a");
        scope.begin(true);
        scope.key("b");
        assert_eq!(scope.leaf_rule().strategy, "keep");
        scope.begin(true);
        scope.key("c");
        assert_eq!(scope.frames[2].child.0, None);
        assert_eq!(scope.leaf_rule().strategy, "keep"); // inherited from a.b
    }
}
