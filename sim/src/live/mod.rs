//! Live mode: the actors of [`fakes::process`] and the eligibility core of
//! [`fakes::eligibility`] behind real services on loopback (or the address of `onsim
//! serve --bind`, see [`Network`]), on a shared virtual clock (`onsim serve`).
//!
//! - [`clock`]: the virtual clock (scaled or frozen, jumped on command);
//! - [`world`]: the live driver — the same actors and [`crate::engine::EventQueue`]
//!   as timeline mode; the system under test plays the clinic;
//! - [`clinics`]: the clinics of one serve (one world each, on the one clock) and
//!   how a request names its clinic (`Onsim-Clinic`, or the client certificate);
//! - [`http`]: the HTTP + JSON services (control, bureau, reader vendor, carrier,
//!   portal) and the eligibility API over mutual TLS;
//! - [`tls`]: rustls configurations (ring only) and the virtual-clock client
//!   certificate verifier;
//! - [`eligibility`]: the answering desk behind the mTLS API;
//! - [`carrier`]: the fault-injecting TCP proxy;
//! - [`centre`]: the terminal's HTTP client for the eligibility API (mTLS, through
//!   the carrier proxy);
//! - [`pki`]: the certificates of a run and the client-credential test matrix;
//! - [`state_dir`]: what `onsim serve` writes to its state directory (locked, no links
//!   out);
//! - [`verdict`]: `onsim serve --scenario`'s judge (the clinic observed from its
//!   messages, `GET /verdict`, the shutdown report);
//! - [`replay`]: the scenario's clinic as an HTTP client (`onsim run --live`, `onsim
//!   play`);
//! - [`reader`]: the simulated face-auth reader (`POST /reader/present`), whose
//!   confirmations end in the file drop's `face/`.

pub mod card;
pub mod carrier;
pub mod centre;
pub mod certificate_fault;
pub mod client;
pub mod clinics;
pub mod clock;
pub mod connection;
pub mod eligibility;
pub mod environment;
pub mod http;
pub mod pki;
pub mod population;
pub mod reader;
pub mod replay;
pub mod revocations;
pub mod state_dir;
pub mod tls;
pub mod verdict;
pub mod world;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tokio::net::TcpListener;
use tokio::sync::watch;

use fakes::codes::{FeeTable, InstitutionCode, Prefecture};
use fakes::eligibility::{AnswerConfig, Population, PopulationConfig, Service, Terminal};
use fakes::schedule::RuleSet;
use fakes::time::VirtualTime;

use self::carrier::Proxy;
use self::clinics::{LiveClinic, Unchosen};
use self::clock::VirtualClock;
use self::eligibility::EligibilityDesk;
use self::http::Svc;
use self::pki::LivePki;
use self::world::{World, WorldConfig};

/// Everything the handlers share.
pub struct App {
    pub clock: Arc<VirtualClock>,
    /// The clinics of the serve, in command-line order (at least one): each its own
    /// world, credentials, population and terminal ([`clinics`]).
    pub clinics: Vec<Arc<LiveClinic>>,
    /// The run's certificates; its `matrix` and `institution` are the first clinic's.
    pub pki: Arc<LivePki>,
    pub desk: Arc<EligibilityDesk>,
    /// Card-based confirmations: JPKI CA, link registry, challenges.
    pub cards: Arc<card::CardDesk>,
    pub proxy: Arc<Proxy>,
    /// Judges terminal certificates at the handshake and again on every request.
    pub client_verifier: Arc<tls::VirtualClockClientVerifier>,
    /// The terminal CA's revocations published so far (start-time CRL first).
    pub revocations: Arc<revocations::TerminalRevocations>,
}

impl App {
    /// The first clinic: the only one of a serve of one.
    pub fn first(&self) -> &Arc<LiveClinic> {
        &self.clinics[0]
    }

    /// The clinics' ids, in order.
    pub fn clinic_ids(&self) -> Vec<&str> {
        self.clinics.iter().map(|c| c.id.as_str()).collect()
    }

    /// The clinic a JSON request names with its [`clinics::HEADER`] (absent: the only
    /// clinic); `Err` says why none ([`clinics::choose`]).
    pub fn choose(&self, headers: &hyper::HeaderMap) -> Result<&Arc<LiveClinic>, Unchosen> {
        let raw = headers.get(clinics::HEADER).map(|v| v.as_bytes());
        clinics::choose(&self.clinic_ids(), raw).map(|i| &self.clinics[i])
    }

    /// The clinic whose terminals carry certificates bound to `code` (its institution
    /// code, or a reception number it submitted on the portal); a code of no clinic
    /// (e.g. `other-institution.crt`'s) is judged with the first clinic's world and
    /// population *(our choice: its requests are refused unless they name the
    /// certificate's own code, as with one clinic)*.
    pub fn clinic_by_code(&self, code: InstitutionCode) -> &Arc<LiveClinic> {
        if self.clinics.len() == 1 {
            return self.first();
        }
        let codes: Vec<InstitutionCode> = self.clinics.iter().map(|c| c.institution).collect();
        clinics::by_code(&codes, code)
            .map(|i| &self.clinics[i])
            .or_else(|| self.clinics.iter().find(|c| c.world.submitted(code)))
            .unwrap_or_else(|| self.first())
    }

    /// Deliver what came due in every clinic's world; how many messages.
    pub fn tick(&self) -> usize {
        self.clinics.iter().map(|c| c.world.tick()).sum()
    }

    /// When the next queued message of any clinic's world comes due.
    pub fn next_due(&self) -> Option<VirtualTime> {
        self.clinics.iter().filter_map(|c| c.world.next_due()).min()
    }

    /// Messages waiting for their time, in every clinic's world.
    pub fn pending(&self) -> usize {
        self.clinics.iter().map(|c| c.world.pending()).sum()
    }
}

/// One clinic to start ([`start_clinics`]).
pub struct ClinicSpec<'a> {
    /// Its id ([`clinics::check_id`]).
    pub id: String,
    /// The code its bureau hands out first (its `valid.crt` and terminal are bound to it).
    pub institution: InstitutionCode,
    /// The seed of its population (its scenario's, or the run's).
    pub seed: u64,
    /// Where its terminal's file drop lives (`req/`, `res/`, `face/`), if any.
    pub terminal_dir: Option<PathBuf>,
    /// Its world (a scenario's actors); `None`: the default world of the run's rules
    /// and designation.
    pub world: Option<WorldBuilder<'a>>,
}

/// How to start the live services.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub start: NaiveDate,
    /// Virtual seconds per real second (0 = frozen).
    pub speed: f64,
    pub seed: u64,
    pub rules: RuleSet,
    pub designation: NaiveDate,
    /// First port; the services take `port_base..port_base+7`. 0 = ephemeral ports.
    pub port_base: u16,
    /// Households in the synthetic population.
    pub households: u64,
    /// Where the terminal's file drop lives (`req/`, `res/`, `face/`), if any.
    pub terminal_dir: Option<PathBuf>,
    /// The terminal's deadline for one exchange with the implementing body.
    pub terminal_timeout: Duration,
    /// The clinic `valid.crt` and the terminal are bound to (default:
    /// [`clinic_institution`]; a scenario's: the first code its bureau hands out).
    pub institution: InstitutionCode,
}

/// The clinic's prefecture and county *(our choice: Tokyo, county 1)*; the bureau
/// numbers its answers from [`fakes::process::params::BureauParams::next_number`].
pub const CLINIC_PREFECTURE: u8 = 13;
pub const CLINIC_COUNTY: u8 = 1;

/// The institution `valid.crt` is bound to: the code the bureau hands out first, so
/// the matrix and a portal-issued certificate name the same clinic.
pub fn clinic_institution() -> InstitutionCode {
    let p = Prefecture::new(CLINIC_PREFECTURE).expect("valid prefecture");
    InstitutionCode::new(
        p,
        FeeTable::Medical,
        CLINIC_COUNTY,
        fakes::process::params::BureauParams::default().next_number,
    )
    .expect("valid code")
}

/// Another clinic's code (for `other-institution.crt`).
pub fn other_institution() -> InstitutionCode {
    let p = Prefecture::new(CLINIC_PREFECTURE).expect("valid prefecture");
    InstitutionCode::new(p, FeeTable::Medical, CLINIC_COUNTY, 9001).expect("valid code")
}

/// Where the running services listen.
#[derive(Debug, Clone)]
pub struct Addrs {
    pub control: SocketAddr,
    pub bureau: SocketAddr,
    pub reader_vendor: SocketAddr,
    pub carrier: SocketAddr,
    pub portal: SocketAddr,
    pub eligibility: SocketAddr,
    pub proxy: SocketAddr,
}

/// Where the services listen and the host clients are told to use (`onsim serve
/// --bind/--advertise`, issue 17 item 3: a container is reached through port
/// mapping, so it must listen on all interfaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Every published service listens on this address.
    pub bind: IpAddr,
    /// The host (DNS name or IP address) written into endpoints.json and named by the
    /// eligibility server's certificate.
    pub advertise: String,
}

impl Default for Network {
    /// Loopback only, as before `--bind` existed.
    fn default() -> Self {
        Network {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            advertise: Ipv4Addr::LOCALHOST.to_string(),
        }
    }
}

impl Network {
    /// `bind` with `advertise`, or (`None`) the default host: the bind address, or
    /// the loopback address of its family when binding all interfaces (`0.0.0.0` →
    /// `127.0.0.1`, `::` → `::1`) *(our choice: a client on the same machine, or on a
    /// host whose ports are mapped to the container, reaches it there)*. `Err` says
    /// what is wrong with `advertise` ([`Network::check_host`]).
    pub fn new(bind: IpAddr, advertise: Option<&str>) -> Result<Self, String> {
        let advertise = match advertise {
            Some(h) => Network::check_host(h)?,
            None => reachable(SocketAddr::new(bind, 0)).ip().to_string(),
        };
        Ok(Network { bind, advertise })
    }

    /// An advertised host: an IP address (not the unspecified one; written in its
    /// canonical form) or a DNS name as TLS clients check it
    /// ([`rustls_pki_types::DnsName`]). No name is looked up.
    pub fn check_host(host: &str) -> Result<String, String> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            if ip.is_unspecified() {
                return Err(format!(
                    "{host} is not an address a client can connect to (give the name or address clients use)"
                ));
            }
            return Ok(ip.to_string());
        }
        match rustls_pki_types::DnsName::try_from(host) {
            Ok(_) if !host.is_empty() => Ok(host.to_string()),
            _ => Err(format!(
                "{host:?} is neither an IP address nor a DNS name (letters, digits, '-' and '.')"
            )),
        }
    }

    /// `host:port` for a URL: an IPv6 address in brackets.
    pub fn authority(&self, port: u16) -> String {
        match self.advertise.parse::<Ipv6Addr>() {
            Ok(ip) => format!("[{ip}]:{port}"),
            Err(_) => format!("{}:{port}", self.advertise),
        }
    }
}

/// Where a service listening on `a` is reached from inside onsim: the loopback
/// address of the same family when `a` is the unspecified address (all interfaces).
pub fn reachable(a: SocketAddr) -> SocketAddr {
    match a.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), a.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), a.port())
        }
        _ => a,
    }
}

/// The running services.
pub struct Running {
    pub app: Arc<App>,
    pub addrs: Addrs,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Each clinic's file drop; shared with its reader's face writer
    /// ([`reader::FaceSink`]).
    terminals: Vec<crate::terminal::TerminalDriver>,
}

async fn bind(ip: IpAddr, base: u16, offset: u16) -> std::io::Result<TcpListener> {
    let port = if base == 0 {
        0
    } else {
        base.checked_add(offset)
            .ok_or_else(|| std::io::Error::other("port out of range"))?
    };
    TcpListener::bind((ip, port)).await
}

/// The start instant of a run: 09:00 on the start date (offices open).
pub fn start_instant(start: NaiveDate) -> VirtualTime {
    VirtualTime::at(start, fakes::process::OFFICE_OPENS, 0)
}

/// Build everything and start listening. Must run inside a tokio runtime.
pub async fn start(cfg: &LiveConfig) -> Result<Running, String> {
    start_with_world(cfg, None).await
}

/// Builds the live world from the run's clock and certificates.
pub type WorldBuilder<'a> = Box<dyn FnOnce(Arc<VirtualClock>, Arc<LivePki>) -> World + Send + 'a>;

/// As [`start`], with the world built by `world` (a scenario's actors, for
/// `onsim run --live`) instead of the default one.
pub async fn start_with_world(
    cfg: &LiveConfig,
    world: Option<WorldBuilder<'_>>,
) -> Result<Running, String> {
    start_with_terminal(cfg, world, crate::terminal::DriverConfig::default()).await
}

/// As [`start_with_world`], with the file drop's settings (`onsim serve`'s
/// `--terminal-*` flags).
pub async fn start_with_terminal(
    cfg: &LiveConfig,
    world: Option<WorldBuilder<'_>>,
    terminal_cfg: crate::terminal::DriverConfig,
) -> Result<Running, String> {
    start_on(cfg, world, terminal_cfg, &Network::default()).await
}

/// As [`start_with_terminal`], listening on `net.bind` with a server certificate that
/// also names `net.advertise` (`onsim serve --bind/--advertise`).
pub async fn start_on(
    cfg: &LiveConfig,
    world: Option<WorldBuilder<'_>>,
    terminal_cfg: crate::terminal::DriverConfig,
    net: &Network,
) -> Result<Running, String> {
    let one = ClinicSpec {
        id: clinics::DEFAULT_ID.to_string(),
        institution: cfg.institution,
        seed: cfg.seed,
        terminal_dir: cfg.terminal_dir.clone(),
        world,
    };
    start_clinics(cfg, vec![one], terminal_cfg, net).await
}

/// `other-institution.crt`'s code for a clinic of `institution`: number 9001 of its
/// prefecture and county, medical *(our choice)*.
fn other_for(institution: InstitutionCode) -> InstitutionCode {
    InstitutionCode::new(
        institution.prefecture(),
        FeeTable::Medical,
        institution.county(),
        9001,
    )
    .unwrap_or_else(other_institution)
}

/// As [`start_on`], for several clinics on the one clock and the same service ports
/// (issue 17 item 2). `cfg.institution` and `cfg.terminal_dir` are not read (each
/// clinic's are in its [`ClinicSpec`]); `cfg.seed` seeds what the clinics share (the
/// server and terminal CAs, the card desk, the proxy). `Err` when `specs` is empty,
/// an id repeats or two clinics share an institution code.
pub async fn start_clinics(
    cfg: &LiveConfig,
    specs: Vec<ClinicSpec<'_>>,
    terminal_cfg: crate::terminal::DriverConfig,
    net: &Network,
) -> Result<Running, String> {
    if specs.is_empty() {
        return Err("no clinic to serve".into());
    }
    for (i, a) in specs.iter().enumerate() {
        clinics::check_id(&a.id)?;
        if let Some(b) = specs[..i].iter().find(|b| b.id == a.id) {
            return Err(format!("two clinics have the id {:?}", b.id));
        }
        if let Some(b) = specs[..i].iter().find(|b| b.institution == a.institution) {
            return Err(format!(
                "clinics {:?} and {:?} have the same institution code {}",
                b.id, a.id, a.institution
            ));
        }
    }
    let clock = Arc::new(
        VirtualClock::new(start_instant(cfg.start), cfg.speed).map_err(|e| e.to_string())?,
    );
    let first = specs[0].institution;
    let mut pki = LivePki::new(cfg.seed, cfg.start, first, other_for(first))
        .map_err(|e| format!("certificates: {e}"))?;
    let mut matrices = vec![pki.matrix.clone()];
    for spec in &specs[1..] {
        let m = pki
            .add_clinic(&spec.institution, &other_for(spec.institution))
            .map_err(|e| format!("certificates of clinic {}: {e}", spec.id))?;
        matrices.push(m);
    }
    if let Some(server) = tls::server_certificate_for(&pki, &net.advertise)
        .map_err(|e| format!("server certificate for {}: {e}", net.advertise))?
    {
        pki.server = server;
    }
    let pki = Arc::new(pki);
    // The terminal's output encoding is the desk's default for requests that name
    // none: answers pass through the terminal as the centre wrote them, so the centre
    // writes them in the terminal's encoding (a request's CharacterCodeIdentifier
    // still wins). A centre with another default would need the terminal to
    // re-encode; onsim's centre and terminal share the setting instead.
    let mut desk_cfg = AnswerConfig::default();
    if let Some(c) = terminal_cfg.encoding {
        desk_cfg.default_character_code = c;
    }
    let population_of = |seed: u64| -> Result<Population, String> {
        let p = Population::new(PopulationConfig {
            seed,
            households: cfg.households,
            ..PopulationConfig::default()
        });
        population::check_examples(&p).map_err(|e| format!("--households: {e}"))?;
        Ok(p)
    };
    let ip = net.bind;
    let io = |what: &str, e: std::io::Error| format!("cannot listen for {what} on {ip}: {e}");
    let l_control = bind(ip, cfg.port_base, 0)
        .await
        .map_err(|e| io("control", e))?;
    let l_bureau = bind(ip, cfg.port_base, 1)
        .await
        .map_err(|e| io("bureau", e))?;
    let l_vendor = bind(ip, cfg.port_base, 2)
        .await
        .map_err(|e| io("reader vendor", e))?;
    let l_carrier = bind(ip, cfg.port_base, 3)
        .await
        .map_err(|e| io("carrier", e))?;
    let l_portal = bind(ip, cfg.port_base, 4)
        .await
        .map_err(|e| io("portal", e))?;
    let l_elig = bind(ip, cfg.port_base, 5)
        .await
        .map_err(|e| io("eligibility", e))?;
    let l_proxy = bind(ip, cfg.port_base, 6)
        .await
        .map_err(|e| io("carrier proxy", e))?;
    let addr = |l: &TcpListener| l.local_addr().map_err(|e| e.to_string());
    let addrs = Addrs {
        control: addr(&l_control)?,
        bureau: addr(&l_bureau)?,
        reader_vendor: addr(&l_vendor)?,
        carrier: addr(&l_carrier)?,
        portal: addr(&l_portal)?,
        eligibility: addr(&l_elig)?,
        proxy: addr(&l_proxy)?,
    };
    // Each clinic: its world, its population, and its terminal's own way into the
    // carrier (unpublished, ephemeral, the proxy's reserved slots): on loopback
    // whatever `--bind` says, since only onsim itself uses it.
    let mut built: Vec<(Arc<LiveClinic>, TcpListener, Option<PathBuf>)> = Vec::new();
    for (spec, credentials) in specs.into_iter().zip(matrices) {
        let other = other_for(spec.institution);
        let world = match spec.world {
            Some(build) => build(clock.clone(), pki.clone()),
            None => World::new(
                &WorldConfig {
                    rules: cfg.rules,
                    designation: cfg.designation,
                    seed: spec.seed,
                    prefecture: spec.institution.prefecture(),
                    county: CLINIC_COUNTY,
                },
                clock.clone(),
                pki.clone(),
            )?,
        };
        let l = bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 0, 0)
            .await
            .map_err(|e| io("carrier proxy (terminal)", e))?;
        let clinic = LiveClinic {
            id: spec.id,
            institution: spec.institution,
            other_institution: other,
            world: Arc::new(world.with_other_institution(other)),
            credentials,
            population: population_of(spec.seed)?,
            reader_centre: l.local_addr().map_err(|e| e.to_string())?,
            face: std::sync::OnceLock::new(),
        };
        built.push((Arc::new(clinic), l, spec.terminal_dir));
    }
    let mut desk = EligibilityDesk::new(built[0].0.population.clone(), desk_cfg);
    for (c, _, _) in &built {
        desk = desk.with_population(c.institution, c.population.clone());
    }
    let desk = Arc::new(desk);
    // One line check per clinic: up when its ordered line (if any) is connectable and
    // no carrier outage window of its scenario is in force (`World::carrier_outage_now`).
    let line_of = |w: Arc<World>| -> carrier::LineCheck {
        Arc::new(move || w.line().is_none_or(|(_, _, ok)| ok) && !w.carrier_outage_now())
    };
    // The published proxy carries every clinic's traffic and cannot tell whose a
    // connection is (TLS passes through it): it is down while any clinic's line is
    // *(our choice: a fault is never hidden; each clinic's terminal meets only its own)*.
    let all_lines: Vec<carrier::LineCheck> = built
        .iter()
        .map(|(c, _, _)| line_of(c.world.clone()))
        .collect();
    let proxy = Proxy::new(
        reachable(addrs.eligibility),
        clock.clone(),
        Arc::new(move || all_lines.iter().all(|up| up())),
        cfg.seed,
    );
    let client_verifier = Arc::new(tls::VirtualClockClientVerifier::new(
        pki.verifier.clone(),
        clock.clone(),
        &tls::provider(),
    ));
    let server_cfg =
        tls::server_config_with(&pki, client_verifier.clone()).map_err(|e| format!("TLS: {e}"))?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_cfg));
    let revocations = Arc::new(revocations::TerminalRevocations::new(
        pki.clone(),
        client_verifier.clone(),
    ));
    // Each world revokes the certificates a scenario's `client-certificate` fault
    // says are revoked ([`World::attach_revocations`]).
    for (c, _, _) in &built {
        c.world.attach_revocations(revocations.clone());
    }
    let app = Arc::new(App {
        clock: clock.clone(),
        clinics: built.iter().map(|(c, _, _)| c.clone()).collect(),
        pki: pki.clone(),
        desk,
        cards: Arc::new(
            card::CardDesk::new(cfg.seed, cfg.start).map_err(|e| format!("JPKI CA: {e}"))?,
        ),
        proxy: proxy.clone(),
        client_verifier,
        revocations: revocations.clone(),
    });
    let (tx, rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for (l, svc) in [
        (l_control, Svc::Control),
        (l_bureau, Svc::Bureau),
        (l_vendor, Svc::ReaderVendor),
        (l_carrier, Svc::Carrier),
        (l_portal, Svc::Portal),
    ] {
        tasks.push(tokio::spawn(http::serve_http(
            l,
            svc,
            app.clone(),
            rx.clone(),
        )));
    }
    tasks.push(tokio::spawn(http::serve_https(
        l_elig,
        acceptor,
        app.clone(),
        rx.clone(),
    )));
    tasks.push(tokio::spawn(proxy.clone().run(l_proxy, rx.clone())));
    let mut terminals = Vec::new();
    for (clinic, l, dir) in built {
        tasks.push(tokio::spawn(proxy.clone().run_reserved_for(
            l,
            rx.clone(),
            line_of(clinic.world.clone()),
        )));
        let Some(dir) = dir else { continue };
        let term = Terminal::new(Service::new(
            clinic.population.clone(),
            clinic.institution,
            AnswerConfig::default(),
        ));
        let c = clock.clone();
        let valid = clinic.credential("valid").ok_or("no valid credential")?;
        // The terminal asks the implementing body over mutual TLS (the clinic's
        // `valid` credential) through the carrier proxy, so carrier faults reach the
        // file drop as abnormal answers.
        let backend = centre::HttpBackend::new(
            &format!("https://localhost:{}/eligibility", addrs.eligibility.port()),
            Some(clinic.reader_centre),
            Some(centre::credential_client_config(&pki, valid)?),
        )?
        .with_timeout(cfg.terminal_timeout);
        let driver = crate::terminal::start_with(
            &dir,
            term,
            Arc::new(backend),
            Arc::new(move || c.now()),
            terminal_cfg.clone(),
        )
        .map_err(|e| format!("terminal file drop in {}: {e}", dir.display()))?;
        // The reader (`POST /reader/present`) writes face/ through the file drop.
        let _ = clinic.face.set(reader::FaceSink(driver.face_drop()));
        terminals.push(driver);
    }
    // The clock's heartbeat: deliver what came due while the clock runs.
    {
        let app = app.clone();
        let mut stop = rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            loop {
                tokio::select! {
                    _ = tick.tick() => { app.tick(); }
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    Ok(Running {
        app,
        addrs,
        shutdown: tx,
        tasks,
        terminals,
    })
}

impl Running {
    /// Stop every service and wait (bounded) for them. The file drop stops first
    /// (no new file is taken; the request in flight is finished against the
    /// still-running centre, bounded by its timeout, or left in `req/`), so a clean
    /// shutdown never writes a false "centre unreachable" answer (issue 14 #2).
    pub async fn stop(mut self) {
        for t in std::mem::take(&mut self.terminals) {
            let _ = tokio::task::spawn_blocking(move || t.stop()).await;
        }
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }

    /// Where the first clinic's card confirmations are written (`face/`), when its
    /// file drop runs.
    pub fn face_drop(&self) -> Option<crate::terminal::FaceDrop> {
        self.terminals.first().map(|t| t.face_drop())
    }
}

/// The next connection on `listener`, or `None` once `shutdown` changes. Accept
/// errors (e.g. too many open files) are logged with `what` and retried after a short
/// pause, so one bad moment never stops a service.
pub(crate) async fn accept_until(
    listener: &TcpListener,
    shutdown: &mut watch::Receiver<bool>,
    what: &'static str,
) -> Option<(tokio::net::TcpStream, std::net::SocketAddr)> {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => return Some(x),
                Err(e) => {
                    tracing::warn!(error = %e, service = what, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => return None,
        }
    }
}
