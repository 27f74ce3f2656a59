//! Probe capacity on this machine: how many tcp probes per second the scheduler
//! sustains, at what CPU and memory cost, by `connect()` or half-open (`--path syn`,
//! needs CAP_NET_RAW; without it the run says it fell back to connect).
//!
//! The listeners run in a child process (this same binary with `--serve`), so the CPU
//! figures separate the prober from the servers it probes; both share the machine's
//! cores, as they would not in production. The listeners are real sockets (backlog
//! 4096, capped by net.core.somaxconn) on `--ports` ports of 0.0.0.0 bound to the
//! loopback device (SO_BINDTODEVICE lo: nothing off the machine reaches them), and each
//! target is a distinct `127.1.x.y:port` (`--addresses 1` puts them all on 127.0.0.1).
//! Loopback only; the run always ends after `--seconds` (the child exits when our
//! stdin pipe to it closes, or after a hard deadline).
//!
//! Kernel work for loopback packets runs mostly in the sender's context, so with the
//! half-open path the listeners' side of each exchange (SYN → SYN-ACK, RST) is charged
//! to the prober, and the listener process itself does nothing (it never accepts).
//!
//! cargo run --release -p ward-probe --example capacity -- --targets 100000 --seconds 20 --path syn

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use ward_core::ids::{ObserverId, ProbeId};
use ward_core::inventory::CheckKind;
use ward_core::observation::{Observation, ProbeOutcome};
use ward_probe::{ProbeSpec, Scheduler, SchedulerConfig, TcpPath};

struct Options {
    targets: u32,
    seconds: u64,
    ports: u32,
    concurrency: usize,
    interval_ms: u64,
    timeout_ms: u64,
    /// Distinct 127.1.x.y addresses the targets spread over (0: as many as needed
    /// for every target to be a distinct address:port).
    addresses: u32,
    syn: bool,
    serve: bool,
}

fn options() -> Options {
    let mut options = Options {
        targets: 100_000,
        seconds: 20,
        ports: 50,
        concurrency: 4096,
        interval_ms: 1_000,
        timeout_ms: 1_000,
        addresses: 0,
        syn: false,
        serve: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut index = 0;
    while index < args.len() {
        let value = || args.get(index + 1).and_then(|v| v.parse::<u64>().ok()).unwrap_or_else(|| usage(&args[index]));
        match args[index].as_str() {
            "--serve" => {
                options.serve = true;
                index += 1;
                continue;
            }
            "--targets" => options.targets = value() as u32,
            "--seconds" => options.seconds = value().clamp(1, 600),
            "--ports" => options.ports = value().clamp(1, 1_000) as u32,
            "--concurrency" => options.concurrency = value().max(1) as usize,
            "--interval-ms" => options.interval_ms = value().max(1),
            "--timeout-ms" => options.timeout_ms = value().max(1),
            "--addresses" => options.addresses = value().min(60_000) as u32,
            "--path" => {
                options.syn = match args.get(index + 1).map(String::as_str) {
                    Some("syn") => true,
                    Some("connect") => false,
                    _ => usage(&args[index]),
                }
            }
            other => usage(other),
        }
        index += 2;
    }
    options
}

fn usage(at: &str) -> ! {
    eprintln!(
        "bad argument {at:?}\nusage: capacity [--targets N] [--seconds D] [--ports P] [--concurrency C] [--interval-ms I] [--timeout-ms T] [--addresses A] [--path connect|syn]"
    );
    std::process::exit(2)
}

/// Raises the soft fd limit to the hard one: each probe in flight holds a socket.
fn raise_fd_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass, which lives on our stack.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur as u64
    }
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    let ticks = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(14) + ticks(15)) / hz
}

/// Machine-wide (busy, total) jiffies from /proc/stat: includes softirq work for
/// loopback packets (often charged to ksoftirqd, not to us) and anything else running.
fn machine_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let values: Vec<u64> = stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn max_rss_mib(pid: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kib.unwrap_or(0.0) / 1024.0
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
}

/// Child mode: listeners on 127.0.0.1 that accept and close, until stdin closes.
fn serve(options: &Options) {
    raise_fd_limit();
    let deadline = Duration::from_secs(options.seconds + 30);
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        std::process::exit(0);
    });
    std::thread::spawn(move || {
        std::thread::sleep(deadline);
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut ports = Vec::new();
        for _ in 0..options.ports {
            let socket = TcpSocket::new_v4().unwrap();
            // Every 127.x.y.z address, loopback device only.
            socket.bind_device(Some(b"lo")).unwrap();
            socket.bind("0.0.0.0:0".parse().unwrap()).unwrap();
            let listener = socket.listen(4096).unwrap();
            ports.push(listener.local_addr().unwrap().port().to_string());
            tokio::spawn(async move {
                loop {
                    if let Ok((stream, _)) = listener.accept().await {
                        drop(stream);
                    }
                }
            });
        }
        println!("{}", ports.join(" "));
        std::io::stdout().flush().unwrap();
        std::future::pending::<()>().await;
    });
}

fn main() {
    let options = options();
    if options.serve {
        return serve(&options);
    }
    let fd_limit = raise_fd_limit();
    if (fd_limit as usize) < options.concurrency + 256 {
        eprintln!("warning: fd limit {fd_limit} is below concurrency {} + headroom; probes will fail with EMFILE", options.concurrency);
    }
    let mut server = Command::new(std::env::current_exe().unwrap())
        .args(["--serve", "--ports", &options.ports.to_string(), "--seconds", &options.seconds.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the listener process");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let ports: Vec<u16> = line.split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert_eq!(ports.len(), options.ports as usize, "listener process did not report its ports");

    let addresses = if options.addresses == 0 { options.targets.div_ceil(options.ports).max(1) } else { options.addresses };
    let address = |index: u32| {
        let a = (index / options.ports) % addresses;
        if addresses == 1 {
            "127.0.0.1".to_string()
        } else {
            format!("127.1.{}.{}", a / 250, 1 + a % 250)
        }
    };
    let specs: Vec<ProbeSpec> = (0..options.targets)
        .map(|index| {
            let target = format!("{}:{}", address(index), ports[(index % options.ports) as usize]);
            let mut spec = ProbeSpec::new(ProbeId(index), CheckKind::Tcp, target);
            spec.node = format!("node{index}");
            spec.interval = Duration::from_millis(options.interval_ms);
            spec.timeout = Duration::from_millis(options.timeout_ms);
            spec
        })
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let server_pid = server.id().to_string();
    let report = runtime.block_on(async {
        let (sink, mut receiver) = mpsc::channel::<Observation>(65_536);
        // The consumer stands in for the controller: counts outcomes, keeps latencies.
        let consumer = tokio::spawn(async move {
            let mut latency_ms = vec![0u64; 60_001];
            let (mut passed, mut total) = (0u64, 0u64);
            while let Some(observation) = receiver.recv().await {
                total += 1;
                passed += (observation.outcome == ProbeOutcome::Pass) as u64;
                latency_ms[(observation.latency_ms as usize).min(60_000)] += 1;
            }
            (total, passed, latency_ms)
        });
        let machine_start = machine_jiffies();
        let cpu_self_start = cpu_seconds("self");
        let cpu_server_start = cpu_seconds(&server_pid);
        let started = Instant::now();
        let tcp_path = if options.syn { TcpPath::HalfOpenWhenAvailable } else { TcpPath::Connect };
        let config = SchedulerConfig { concurrency_max: options.concurrency, tcp_path, ..SchedulerConfig::default() };
        let handle = Scheduler::start(specs, ObserverId(0), sink, config);
        tokio::time::sleep(Duration::from_secs(options.seconds)).await;
        let stats = handle.stats();
        let counts = handle.tcp_half_open_counts();
        let wall = started.elapsed().as_secs_f64();
        let cpu_self = cpu_seconds("self") - cpu_self_start;
        let cpu_server = cpu_seconds(&server_pid) - cpu_server_start;
        let machine_end = machine_jiffies();
        let machine = (machine_end.0 - machine_start.0) as f64 * 100.0 / (machine_end.1 - machine_start.1).max(1) as f64;
        handle.stop().await;
        let (total, passed, latency_ms) = consumer.await.unwrap();
        (stats, counts, wall, cpu_self, cpu_server, machine, total, passed, latency_ms)
    });
    let (stats, counts, wall, cpu_self, cpu_server, machine, total, passed, latency_ms) = report;
    let server_rss = max_rss_mib(&server_pid);
    drop(server.stdin.take());
    let _ = server.kill();
    let _ = server.wait();

    let quantile = |q: f64| {
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        latency_ms.iter().position(|&count| {
            seen += count;
            seen >= rank
        })
    };
    let finished = stats.passed + stats.failed + stats.timed_out;
    let path = match (options.syn, stats.tcp_half_open) {
        (false, _) => "connect",
        (true, true) => "syn",
        (true, false) => "syn unavailable: connect",
    };
    let half_open = counts.map_or_else(
        || "-".to_string(),
        |c| format!("{} SYNs sent, {} SYN-ACKs, {} RSTs, {} late", c.sent, c.syn_acks, c.resets, c.unmatched),
    );
    let prober_rss = max_rss_mib("self");
    let rows = [
        ("targets", format!("{} ({addresses} addresses × {} ports)", options.targets, options.ports)),
        ("tcp path", format!("{path} (half-open runs {}, connect runs {})", stats.tcp_half_open_runs, stats.tcp_connect_runs)),
        ("half-open packets", half_open),
        ("interval / timeout", format!("{} ms / {} ms", options.interval_ms, options.timeout_ms)),
        ("concurrency limit", format!("{} (max in flight seen {})", options.concurrency, stats.in_flight_max)),
        ("duration", format!("{wall:.1} s")),
        ("wanted probes/s", format!("{:.0}", options.targets as f64 * 1_000.0 / options.interval_ms as f64)),
        ("achieved probes/s", format!("{:.0}", finished as f64 / wall)),
        ("pass %", format!("{:.2}", if total == 0 { 0.0 } else { passed as f64 * 100.0 / total as f64 })),
        ("failed / timed out", format!("{} / {}", stats.failed, stats.timed_out)),
        ("skipped", format!("{}", stats.skipped)),
        ("dropped", format!("{}", stats.dropped)),
        ("latency p50 / p99", format!("{} ms / {} ms (ms resolution)", quantile(0.5).unwrap_or(0), quantile(0.99).unwrap_or(0))),
        (
            "prober CPU %",
            format!("{:.1} of {} cores ({:.1} % of one core)", cpu_self * 100.0 / wall / cores(), cores(), cpu_self * 100.0 / wall),
        ),
        ("listeners CPU %", format!("{:.1} of {} cores", cpu_server * 100.0 / wall / cores(), cores())),
        ("machine CPU busy %", format!("{machine:.1} (all processes, softirq included)")),
        ("prober CPU per probe", format!("{:.1} µs", cpu_self * 1e6 / finished.max(1) as f64)),
        ("prober max RSS", format!("{prober_rss:.1} MiB")),
        ("listeners max RSS", format!("{server_rss:.1} MiB")),
        ("fd limit", format!("{fd_limit}")),
    ];
    println!("| measure | value |\n|---|---|");
    for (name, value) in rows {
        println!("| {name} | {value} |");
    }
    // One line for bench/probe_capacity.sh's summary table.
    println!(
        "row: | {} | {path} | {:.0} | {:.0} | {} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {prober_rss:.1} MiB |",
        options.targets,
        options.targets as f64 * 1_000.0 / options.interval_ms as f64,
        finished as f64 / wall,
        stats.skipped,
        if total == 0 { 0.0 } else { passed as f64 * 100.0 / total as f64 },
        cpu_self * 100.0 / wall / cores(),
        cpu_server * 100.0 / wall / cores(),
        machine,
        cpu_self * 1e6 / finished.max(1) as f64,
    );
}
