//! [`HttpCentral`]: the kiosk's [`CentralSystem`] over the signed `/v1` API,
//! the remote template fallback ([`RemoteTemplates`]) and the enrolment
//! upload ([`TemplateUploader`]).
//!
//! Template fallback rule: when this kiosk has no local template for a person
//! whose status is due, the template is fetched with
//! `POST /v1/persons/template` and saved in the local template store, so the
//! next certification of that person works offline too (face data stays on
//! the device, as for staff enrolments). It is never logged.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use lifecert_core::flow::{HistoryEntry, ServiceFailure};
use lifecert_core::id::IdNumber;
use lifecert_protocol::PersonStatus;
use lifecert_protocol::api::{
    EnrolRequest, EnrolResponse, EnrolTemplate, HistoryResponse, PersonQuery, TemplateResponse,
    codes,
};
use lifecert_vision::embedding::EMBEDDING_DIM;
use lifecert_vision::{EMBEDDING_MODEL_ID, Embedding, Template};
use time::Date;
use zeroize::Zeroizing;

use super::chain;
use super::client::{Client, ClientError};
use super::seal::Sealer;
use crate::kiosk::central::CentralSystem;
use crate::kiosk::templates::TemplateStore;

const NOT_CONTACTED: u8 = 0;
const REACHED: u8 = 1;
const UNREACHABLE: u8 = 2;

/// The central system over HTTPS.
pub struct HttpCentral {
    client: Client,
    reach: AtomicU8,
}

impl HttpCentral {
    /// A central system over a signed `client`.
    pub fn new(client: Client) -> HttpCentral {
        HttpCentral {
            client,
            reach: AtomicU8::new(NOT_CONTACTED),
        }
    }

    /// The client (for the sync worker).
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn query<T: serde::de::DeserializeOwned>(
        &self,
        route: &str,
        person: &IdNumber,
        today: Date,
    ) -> Result<T, ClientError> {
        let query = PersonQuery {
            person_id: person.expose().to_string(),
            today,
        };
        let result = self.client.post(route, &query);
        let reached = match &result {
            Ok(_) | Err(ClientError::Status { .. }) => REACHED,
            Err(_) => UNREACHABLE,
        };
        self.reach.store(reached, Ordering::SeqCst);
        if let Err(e) = &result {
            tracing::warn!(route, person = %person.masked(), "central system: {}", chain(e));
        }
        result
    }

    /// The person's enrolled template from the server (`None` when none).
    pub fn template(&self, person: &IdNumber, today: Date) -> Result<Option<Template>, String> {
        match self.query::<TemplateResponse>("/v1/persons/template", person, today) {
            Ok(t) => {
                let t = Zeroizing::new(t.embedding);
                if t.len() != EMBEDDING_DIM {
                    return Err(format!(
                        "the server's template has {} values, this kiosk's model needs {EMBEDDING_DIM}",
                        t.len()
                    ));
                }
                let mut values = [0.0f32; EMBEDDING_DIM];
                values.copy_from_slice(&t);
                Ok(Some(Template::new(Embedding(values), 0)))
            }
            Err(ClientError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(chain(&e)),
        }
    }
}

fn failure(e: ClientError) -> ServiceFailure {
    match e {
        ClientError::Status { body, .. } => ServiceFailure::Server { code: body.code },
        ClientError::ProtocolHeader { .. } => ServiceFailure::Server {
            code: codes::PROTOCOL_MISMATCH.into(),
        },
        _ => ServiceFailure::Unreachable,
    }
}

impl CentralSystem for HttpCentral {
    fn status(&self, person: &IdNumber, today: Date) -> Result<PersonStatus, ServiceFailure> {
        self.query("/v1/persons/status", person, today)
            .map_err(failure)
    }

    fn history(&self, person: &IdNumber, today: Date) -> Result<Vec<HistoryEntry>, ServiceFailure> {
        self.query::<HistoryResponse>("/v1/persons/history", person, today)
            .map(|h| {
                h.entries
                    .into_iter()
                    .map(|e| HistoryEntry {
                        on: e.on,
                        result: e.result,
                        method: e.method,
                    })
                    .collect()
            })
            .map_err(failure)
    }

    fn reachable(&self) -> bool {
        self.reach.load(Ordering::SeqCst) != UNREACHABLE
    }

    fn describe(&self) -> String {
        match self.reach.load(Ordering::SeqCst) {
            REACHED => format!("{}（已连接）", self.client.base_url()),
            UNREACHABLE => self.client.base_url().to_string(),
            _ => format!("{}（尚未联系）", self.client.base_url()),
        }
    }
}

/// The central system of a kiosk that is not registered: every lookup fails
/// (服务暂不可用) and the health panel says how to register.
pub struct Unregistered;

/// What staff read when the kiosk is not registered.
pub const UNREGISTERED_ZH: &str =
    "未注册：请技术人员运行 lifecert register --server 地址 --token 令牌";

impl CentralSystem for Unregistered {
    fn status(&self, _: &IdNumber, _: Date) -> Result<PersonStatus, ServiceFailure> {
        Err(ServiceFailure::Unreachable)
    }
    fn history(&self, _: &IdNumber, _: Date) -> Result<Vec<HistoryEntry>, ServiceFailure> {
        Err(ServiceFailure::Unreachable)
    }
    fn reachable(&self) -> bool {
        false
    }
    fn describe(&self) -> String {
        UNREGISTERED_ZH.into()
    }
    fn registered(&self) -> bool {
        false
    }
}

/// Local templates first, then the server's (saved locally; see the module docs).
pub struct RemoteTemplates {
    pub local: Arc<dyn TemplateStore>,
    pub central: Arc<HttpCentral>,
    pub clock: Arc<dyn crate::kiosk::Clock>,
}

impl TemplateStore for RemoteTemplates {
    fn get(&self, person: &IdNumber) -> Result<Option<Template>, String> {
        if let Some(t) = self.local.get(person)? {
            return Ok(Some(t));
        }
        let Some(template) = self.central.template(person, self.clock.wall().date())? else {
            return Ok(None);
        };
        if let Err(e) = self.local.put(person, &template) {
            tracing::warn!(error = %e, "cannot keep the server's template on this kiosk");
        }
        Ok(Some(template))
    }
    fn put(&self, person: &IdNumber, template: &Template) -> Result<(), String> {
        self.local.put(person, template)
    }
    fn has(&self, person: &IdNumber) -> bool {
        self.local.has(person)
    }
    fn count(&self) -> usize {
        self.local.count()
    }
}

/// Uploads a staff enrolment to the server.
pub trait TemplateUploader: Send + Sync {
    /// Sends the template; the server's template version on success.
    fn upload(&self, person: &IdNumber, template: &Template) -> Result<u32, String>;
}

/// [`TemplateUploader`] over HTTPS with the staff operator credential.
pub struct HttpUploader {
    pub client: Client,
    pub sealer: Sealer,
    pub credential_path: PathBuf,
}

/// Reads `<operator id>:<secret>` from `path` (warns when others may read it).
pub fn read_operator_credential(path: &Path) -> Result<Zeroizing<String>, String> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the operator credential {}: {e}",
            path.display()
        )
    })?);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the operator credential file is readable by others: chmod 600 it");
        }
    }
    let line = Zeroizing::new(text.trim().to_string());
    match line.split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => Ok(line),
        _ => Err(format!(
            "{} must hold one line `<operator id>:<secret>`",
            path.display()
        )),
    }
}

impl TemplateUploader for HttpUploader {
    fn upload(&self, person: &IdNumber, template: &Template) -> Result<u32, String> {
        let credential = read_operator_credential(&self.credential_path)?;
        let content = EnrolTemplate {
            person_id: person.expose().to_string(),
            model_id: EMBEDDING_MODEL_ID.to_string(),
            embedding: template.embedding.0.to_vec(),
            frames: template.frames,
        };
        let sealed = self
            .sealer
            .seal_template(&content)
            .map_err(|e| e.to_string());
        let EnrolTemplate {
            mut person_id,
            mut embedding,
            ..
        } = content;
        zeroize::Zeroize::zeroize(&mut person_id);
        zeroize::Zeroize::zeroize(&mut embedding);
        let request = EnrolRequest { sealed: sealed? };
        self.client
            .post_with::<_, EnrolResponse>("/v1/templates", &request, Some(credential.as_str()))
            .map(|r| r.version)
            .map_err(|e| chain(&e))
    }
}
