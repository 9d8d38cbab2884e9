//! Live mode: the actors of [`fakes::process`] and the eligibility core of
//! [`fakes::eligibility`] behind real services on loopback (or the address of `onsim
//! serve --bind`, see [`Network`]), on a shared virtual clock (`onsim serve`).
//!
//! - [`clock`]: the virtual clock (scaled or frozen, jumped on command);
//! - [`world`]: the live driver — the same actors and [`crate::engine::EventQueue`]
//!   as timeline mode; the system under test plays the clinic;
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
use self::clock::VirtualClock;
use self::eligibility::EligibilityDesk;
use self::http::Svc;
use self::pki::LivePki;
use self::world::{World, WorldConfig};

/// Everything the handlers share.
pub struct App {
    pub clock: Arc<VirtualClock>,
    pub world: Arc<World>,
    pub pki: Arc<LivePki>,
    pub desk: Arc<EligibilityDesk>,
    /// Card-based confirmations: JPKI CA, link registry, challenges.
    pub cards: Arc<card::CardDesk>,
    pub proxy: Arc<Proxy>,
    /// Judges terminal certificates at the handshake and again on every request.
    pub client_verifier: Arc<tls::VirtualClockClientVerifier>,
    /// The terminal CA's revocations published so far (start-time CRL first).
    pub revocations: Arc<revocations::TerminalRevocations>,
    /// Where the simulated reader sends its card confirmations (the carrier's
    /// terminal listener) and where their face files go (set once the file drop runs).
    pub reader_centre: SocketAddr,
    pub face: std::sync::OnceLock<reader::FaceSink>,
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
    /// The file drop; shared with the reader's face writer ([`reader::FaceSink`]).
    terminal: Option<crate::terminal::TerminalDriver>,
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
    let clock = Arc::new(
        VirtualClock::new(start_instant(cfg.start), cfg.speed).map_err(|e| e.to_string())?,
    );
    let institution = cfg.institution;
    let other = InstitutionCode::new(
        institution.prefecture(),
        FeeTable::Medical,
        institution.county(),
        9001,
    )
    .unwrap_or_else(other_institution);
    let mut pki = LivePki::new(cfg.seed, cfg.start, institution, other)
        .map_err(|e| format!("certificates: {e}"))?;
    if let Some(server) = tls::server_certificate_for(&pki, &net.advertise)
        .map_err(|e| format!("server certificate for {}: {e}", net.advertise))?
    {
        pki.server = server;
    }
    let pki = Arc::new(pki);
    let world = Arc::new(match world {
        Some(build) => build(clock.clone(), pki.clone()),
        None => World::new(
            &WorldConfig {
                rules: cfg.rules,
                designation: cfg.designation,
                seed: cfg.seed,
                prefecture: institution.prefecture(),
                county: CLINIC_COUNTY,
            },
            clock.clone(),
            pki.clone(),
        )?,
    });
    let population = Population::new(PopulationConfig {
        seed: cfg.seed,
        households: cfg.households,
        ..PopulationConfig::default()
    });
    population::check_examples(&population).map_err(|e| format!("--households: {e}"))?;
    // The terminal's output encoding is the desk's default for requests that name
    // none: answers pass through the terminal as the centre wrote them, so the centre
    // writes them in the terminal's encoding (a request's CharacterCodeIdentifier
    // still wins). A centre with another default would need the terminal to
    // re-encode; onsim's centre and terminal share the setting instead.
    let mut desk_cfg = AnswerConfig::default();
    if let Some(c) = terminal_cfg.encoding {
        desk_cfg.default_character_code = c;
    }
    let desk = Arc::new(EligibilityDesk::new(population.clone(), desk_cfg));
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
    // The terminal's own way into the carrier (unpublished, ephemeral, own slots):
    // on loopback whatever `--bind` says, since only onsim itself uses it.
    let l_proxy_terminal = bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 0, 0)
        .await
        .map_err(|e| io("carrier proxy (terminal)", e))?;
    let proxy_terminal = l_proxy_terminal.local_addr().map_err(|e| e.to_string())?;
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
    let line_world = world.clone();
    let proxy = Proxy::new(
        reachable(addrs.eligibility),
        clock.clone(),
        // Up when the ordered line (if any) is connectable and no carrier outage
        // window of the scenario is in force (`World::carrier_outage_now`).
        Arc::new(move || {
            line_world.line().is_none_or(|(_, _, ok)| ok) && !line_world.carrier_outage_now()
        }),
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
    // The world revokes the certificates a scenario's `client-certificate` fault
    // says are revoked ([`World::attach_revocations`]).
    world.attach_revocations(revocations.clone());
    let app = Arc::new(App {
        clock: clock.clone(),
        world: world.clone(),
        pki: pki.clone(),
        desk,
        cards: Arc::new(
            card::CardDesk::new(cfg.seed, cfg.start).map_err(|e| format!("JPKI CA: {e}"))?,
        ),
        proxy: proxy.clone(),
        client_verifier,
        revocations: revocations.clone(),
        reader_centre: proxy_terminal,
        face: std::sync::OnceLock::new(),
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
    tasks.push(tokio::spawn(
        proxy.run_reserved(l_proxy_terminal, rx.clone()),
    ));
    // The clock's heartbeat: deliver what came due while the clock runs.
    {
        let world = world.clone();
        let mut stop = rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            loop {
                tokio::select! {
                    _ = tick.tick() => { world.tick(); }
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    let terminal = match &cfg.terminal_dir {
        Some(dir) => {
            let term = Terminal::new(Service::new(
                population,
                institution,
                AnswerConfig::default(),
            ));
            let c = clock.clone();
            // The terminal asks the implementing body over mutual TLS (the `valid`
            // credential) through the carrier proxy, so carrier faults reach the
            // file drop as abnormal answers.
            let backend = centre::HttpBackend::new(
                &format!("https://localhost:{}/eligibility", addrs.eligibility.port()),
                Some(proxy_terminal),
                Some(centre::terminal_client_config(&pki)?),
            )?
            .with_timeout(cfg.terminal_timeout);
            let driver = crate::terminal::start_with(
                dir,
                term,
                Arc::new(backend),
                Arc::new(move || c.now()),
                terminal_cfg,
            )
            .map_err(|e| format!("terminal file drop in {}: {e}", dir.display()))?;
            Some(driver)
        }
        None => None,
    };
    // The reader (`POST /reader/present`) writes face/ through the file drop.
    if let Some(t) = &terminal {
        let _ = app.face.set(reader::FaceSink(t.face_drop()));
    }
    Ok(Running {
        app,
        addrs,
        shutdown: tx,
        tasks,
        terminal,
    })
}

impl Running {
    /// Stop every service and wait (bounded) for them. The file drop stops first
    /// (no new file is taken; the request in flight is finished against the
    /// still-running centre, bounded by its timeout, or left in `req/`), so a clean
    /// shutdown never writes a false "centre unreachable" answer (issue 14 #2).
    pub async fn stop(mut self) {
        if let Some(t) = self.terminal.take() {
            let _ = tokio::task::spawn_blocking(move || t.stop()).await;
        }
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }

    /// Where card confirmations are written (`face/`), when the file drop runs.
    pub fn face_drop(&self) -> Option<crate::terminal::FaceDrop> {
        self.terminal.as_ref().map(|t| t.face_drop())
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
