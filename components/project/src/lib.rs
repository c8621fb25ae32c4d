//! project: locate a DTaaS services project, and generate its tree (config, data, log, certs,
//! compose files) from templates embedded in the binary, with the protected-file rules of
//! `--force`. It knows nothing of Docker or of what the settings mean.

mod generate;
mod templates;

pub use generate::{Event, GenerateReport, ProjectError, find_project, generate, locate_project};
pub use templates::{
    FROM_TEMPLATE, PROTECTED, TEMPLATE_MARKER, TEMPLATES, Template, TemplateAge, template,
    template_age,
};
