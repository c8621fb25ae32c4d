//! What a command works on: the asked services checked against the project, their
//! read-only bind sources, and the dependency levels they start (or stop) in.

use std::collections::{BTreeSet, HashMap};

use docker::Engine;

use super::{Compose, ServiceContainer};
use crate::ComposeError;
use crate::model::{Mount, Project};

impl<E: Engine> Compose<'_, E> {
    pub(super) fn check_services(&self, services: &[String]) -> Result<Vec<String>, ComposeError> {
        if services.is_empty() {
            return Ok(self.project.service_names());
        }
        for s in services {
            if !self.project.services.contains_key(s) {
                return Err(ComposeError::UnknownService { name: s.clone() });
            }
        }
        Ok(services.to_vec())
    }

    /// Every read-only bind mount of `services` names a path that exists. Docker creates a
    /// missing bind source as an empty directory (as root); for the per-file certificate
    /// and config mounts that directory would then stand where `host setup` must write the
    /// file. Checked before anything is created. A link is not followed (`symlink_metadata`).
    pub(super) fn check_bind_sources(&self, services: &[String]) -> Result<(), ComposeError> {
        for svc in services {
            let Some(def) = self.project.services.get(svc) else {
                continue;
            };
            for m in &def.volumes {
                if let Mount::Bind {
                    source,
                    read_only: true,
                    ..
                } = m
                    && std::fs::symlink_metadata(source).is_err()
                {
                    return Err(ComposeError::MissingBindSource {
                        service: svc.clone(),
                        source_path: source.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Dependency levels of `services` plus everything they depend on: each level only
    /// depends on earlier ones. Order inside a level follows the files.
    pub(super) fn levels(&self, services: &[String], with_deps: bool) -> Vec<Vec<String>> {
        let mut wanted: BTreeSet<String> = services.iter().cloned().collect();
        if with_deps {
            let mut stack: Vec<String> = services.to_vec();
            while let Some(s) = stack.pop() {
                if let Some(def) = self.project.services.get(&s) {
                    for d in def.depends_on.keys() {
                        if wanted.insert(d.clone()) {
                            stack.push(d.clone());
                        }
                    }
                }
            }
        }
        let mut level_of: HashMap<String, usize> = HashMap::new();
        fn level(p: &Project, s: &str, memo: &mut HashMap<String, usize>, depth: usize) -> usize {
            if let Some(l) = memo.get(s) {
                return *l;
            }
            if depth > p.services.len() {
                return 0; // a cycle: the loader does not forbid it; do not loop forever
            }
            let l = p.services.get(s).map_or(0, |d| {
                d.depends_on
                    .keys()
                    .map(|dep| level(p, dep, memo, depth + 1) + 1)
                    .max()
                    .unwrap_or(0)
            });
            memo.insert(s.to_owned(), l);
            l
        }
        let mut levels: Vec<Vec<String>> = Vec::new();
        for name in self.project.services.keys() {
            if !wanted.contains(name) {
                continue;
            }
            let lv = level(&self.project, name, &mut level_of, 0);
            if levels.len() <= lv {
                levels.resize(lv + 1, Vec::new());
            }
            levels[lv].push(name.clone());
        }
        levels.retain(|l| !l.is_empty());
        levels
    }

    pub(super) fn by_service(
        list: &[ServiceContainer],
        services: &[String],
    ) -> Vec<ServiceContainer> {
        list.iter()
            .filter(|c| services.contains(&c.service))
            .cloned()
            .collect()
    }
}
