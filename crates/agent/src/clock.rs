//! `faultline-agent clock-launch`: run a program whose wall clock is shifted by an
//! offset read from a file, without touching the machine's clock.
//!
//! How (measured to work for Go programs such as etcd, which libfaketime
//! cannot reach; see LOCAL-CLUSTER-NOTES): the launcher process P forks a
//! supervisor S, installs a seccomp filter that turns
//! `clock_gettime(CLOCK_REALTIME | CLOCK_REALTIME_COARSE)`, `gettimeofday` and
//! `time` into user notifications, and execs the program — which keeps P's
//! PID, so pidfiles, kill and pause behave as without the launcher. S takes
//! the filter's listener fd from P (pidfd_getfd), ptrace-seizes P until the
//! exec stop, and there rewrites `AT_SYSINFO_EHDR` in the program's auxiliary
//! vector to `AT_IGNORE`: without a vDSO, glibc and the Go runtime make real
//! system calls, which the filter catches. S then answers each call with the
//! real time plus the offset in the file, and exits when the program is gone.
//!
//! The offset file holds one signed integer, nanoseconds; a missing file means
//! 0. Rewrite it atomically (write then rename); it is re-read when it changes.
//! Limits: programs the target execs get a fresh vDSO and see the real time;
//! MONOTONIC clocks are never shifted (as a real clock step would not);
//! `/proc/PID/auxv` still lists the vDSO (it is the kernel's saved copy, not
//! the stack the program reads); if the supervisor is SIGKILLed the program's
//! wall-clock reads fail with ENOSYS. Linux x86_64 only.

use std::ffi::CString;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_USER_NOTIF_FLAG_CONTINUE: u32 = 1;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const NR_GETTIMEOFDAY: u32 = 96;
const NR_TIME: u32 = 201;
const NR_CLOCK_GETTIME: u32 = 228;
const CLOCK_REALTIME: u32 = 0;
const CLOCK_REALTIME_COARSE: u32 = 5;
const AT_NULL: u64 = 0;
const AT_IGNORE: u64 = 1;
const AT_SYSINFO_EHDR: u64 = 33;
// ioctls of <linux/seccomp.h>: _IOWR('!', 0, struct seccomp_notif) (80
// bytes), _IOWR('!', 1, struct seccomp_notif_resp) (24), _IOW('!', 2, u64).
const IOCTL_NOTIF_RECV: libc::c_ulong = 0xC050_2100;
const IOCTL_NOTIF_SEND: libc::c_ulong = 0xC018_2101;
const IOCTL_NOTIF_ID_VALID: libc::c_ulong = 0x4008_2102;

#[repr(C)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

#[repr(C)]
#[derive(Default)]
struct SeccompData {
    nr: i32,
    arch: u32,
    instruction_pointer: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotif {
    id: u64,
    pid: u32,
    flags: u32,
    data: SeccompData,
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error("clock-launch: {what}")]
    Os {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("clock-launch: {0}")]
    Invalid(String),
}

fn os(what: &'static str) -> ClockError {
    ClockError::Os {
        what,
        source: io::Error::last_os_error(),
    }
}

const fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jeq(k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter {
        code: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
        jt,
        jf,
        k,
    }
}

const LD_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const RET: u16 = 0x06; // BPF_RET | BPF_K

/// The filter: wall-clock reads of x86_64 programs notify; all else passes.
fn filter() -> [SockFilter; 11] {
    [
        stmt(LD_ABS, 4), // arch
        jeq(AUDIT_ARCH_X86_64, 0, 8),
        stmt(LD_ABS, 0), // nr
        jeq(NR_GETTIMEOFDAY, 5, 0),
        jeq(NR_TIME, 4, 0),
        jeq(NR_CLOCK_GETTIME, 0, 4),
        stmt(LD_ABS, 16), // args[0], low 32 bits (little endian)
        jeq(CLOCK_REALTIME, 1, 0),
        jeq(CLOCK_REALTIME_COARSE, 0, 1),
        stmt(RET, SECCOMP_RET_USER_NOTIF),
        stmt(RET, SECCOMP_RET_ALLOW),
    ]
}

/// Runs `argv` under the clock supervisor. Returns only on failure: on
/// success this process becomes the program.
pub fn launch(offset_file: &Path, argv: &[String]) -> Result<std::convert::Infallible, ClockError> {
    let cargs: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_str()))
        .collect::<Result<_, _>>()
        .map_err(|_| ClockError::Invalid("an argument contains a NUL byte".into()))?;
    if cargs.is_empty() {
        return Err(ClockError::Invalid("no program given".into()));
    }
    let mut cptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    cptrs.push(std::ptr::null());
    let prog = filter();
    let fprog = SockFprog {
        len: prog.len() as u16,
        filter: prog.as_ptr(),
    };
    let mut to_sup = [0i32; 2];
    let mut ready = [0i32; 2];
    // SAFETY: pipe2 writes two fds into the arrays.
    if unsafe { libc::pipe2(to_sup.as_mut_ptr(), libc::O_CLOEXEC) } != 0
        || unsafe { libc::pipe2(ready.as_mut_ptr(), libc::O_CLOEXEC) } != 0
    {
        return Err(os("pipe"));
    }
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // The controller runs this command single-threaded, so the child may go
    // on running ordinary Rust code after fork.
    // SAFETY: fork in a single-threaded process.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(os("fork"));
    }
    if child == 0 {
        // SAFETY: closing our copies of the other ends; signal dispositions.
        unsafe {
            libc::close(to_sup[1]);
            libc::close(ready[0]);
            // Signals meant for the program's process group (Ctrl-C,
            // `timeout`, `kill -TERM -PGID`) must not kill the supervisor
            // first: without it the program's clock reads fail (ENOSYS) and
            // it sees garbage times. It leaves by itself when the program is
            // gone.
            libc::setpgid(0, 0);
            for sig in [
                libc::SIGINT,
                libc::SIGTERM,
                libc::SIGHUP,
                libc::SIGQUIT,
                libc::SIGPIPE,
            ] {
                libc::signal(sig, libc::SIG_IGN);
            }
        }
        let code = match supervise(parent, to_sup[0], ready[1], offset_file.to_path_buf()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("faultline clock supervisor: {e}");
                1
            }
        };
        std::process::exit(code);
    }
    // SAFETY: plain syscalls on our own fds and process.
    unsafe {
        libc::close(to_sup[0]);
        libc::close(ready[1]);
        // Yama (ptrace_scope 1) lets only an ancestor trace us unless we name the tracer.
        libc::prctl(libc::PR_SET_PTRACER, child as libc::c_ulong, 0, 0, 0);
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(os("no_new_privs"));
        }
    }
    // From here until exec, no clock reads (no tracing): they would wait for
    // the supervisor.
    // SAFETY: fprog points at a live filter array.
    let listener = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &fprog as *const SockFprog,
        )
    };
    if listener < 0 {
        return Err(os("seccomp filter"));
    }
    let fd = (listener as i32).to_ne_bytes();
    // SAFETY: writes 4 bytes from a live buffer; reads 1 byte into one.
    unsafe {
        if libc::write(to_sup[1], fd.as_ptr().cast(), 4) != 4 {
            return Err(os("handing the listener to the supervisor"));
        }
        let mut b = [0u8; 1];
        if libc::read(ready[0], b.as_mut_ptr().cast(), 1) != 1 {
            return Err(ClockError::Invalid(
                "the clock supervisor failed to start (see its message above)".into(),
            ));
        }
        libc::close(listener as i32);
        libc::close(to_sup[1]);
        libc::close(ready[0]);
        libc::execvp(cptrs[0], cptrs.as_ptr());
    }
    Err(ClockError::Os {
        what: "exec",
        source: io::Error::last_os_error(),
    })
}

/// The supervisor: takes the listener, hides the vDSO at the exec stop,
/// then answers clock reads until the program is gone.
fn supervise(target: i32, from: i32, ready: i32, offset_file: PathBuf) -> Result<(), ClockError> {
    let mut buf = [0u8; 4];
    // SAFETY: reads into a live 4-byte buffer.
    if unsafe { libc::read(from, buf.as_mut_ptr().cast(), 4) } != 4 {
        // The launcher failed before installing the filter; it reports why.
        return Ok(());
    }
    let remote_fd = i32::from_ne_bytes(buf);
    // SAFETY: plain syscalls with integer arguments.
    let listener = unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, target, 0);
        if pidfd < 0 {
            return Err(os("pidfd_open"));
        }
        let l = libc::syscall(libc::SYS_pidfd_getfd, pidfd as i32, remote_fd, 0);
        libc::close(pidfd as i32);
        if l < 0 {
            return Err(os("pidfd_getfd"));
        }
        if libc::ptrace(
            libc::PTRACE_SEIZE,
            target,
            0,
            libc::PTRACE_O_TRACEEXEC as libc::c_ulong,
        ) != 0
        {
            return Err(os("ptrace seize"));
        }
        l as i32
    };
    // SAFETY: writes one byte.
    unsafe {
        libc::write(ready, [1u8].as_ptr().cast(), 1);
        libc::close(ready);
        libc::close(from);
    }
    if !await_exec_and_hide_vdso(target)? {
        return Ok(()); // exec failed: the launcher exited with the reason
    }
    serve(listener, &offset_file)
}

/// Waits for the target's exec stop, rewrites its auxv, detaches. False if
/// the target exited instead.
fn await_exec_and_hide_vdso(target: i32) -> Result<bool, ClockError> {
    loop {
        let mut status = 0;
        // SAFETY: waits for our tracee.
        let r = unsafe { libc::waitpid(target, &mut status, libc::__WALL) };
        if r < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(os("waitpid"));
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            return Ok(false);
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        let event = (status >> 16) & 0xffff;
        if event == libc::PTRACE_EVENT_EXEC {
            let res = hide_vdso(target);
            // SAFETY: detaching our stopped tracee.
            unsafe { libc::ptrace(libc::PTRACE_DETACH, target, 0, 0) };
            return res.map(|()| true);
        }
        // Any other stop: pass the signal on (not our SIGTRAPs, nor the
        // group-stop event, which needs no signal).
        let sig = libc::WSTOPSIG(status);
        let inject = if sig == libc::SIGTRAP || event != 0 {
            0
        } else {
            sig
        };
        // SAFETY: resuming our stopped tracee.
        unsafe { libc::ptrace(libc::PTRACE_CONT, target, 0, inject as libc::c_ulong) };
    }
}

fn hide_vdso(target: i32) -> Result<(), ClockError> {
    // SAFETY: PTRACE_GETREGS fills a user_regs_struct of a stopped tracee.
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    if unsafe { libc::ptrace(libc::PTRACE_GETREGS, target, 0, &mut regs) } != 0 {
        return Err(os("ptrace getregs"));
    }
    let mem = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/proc/{target}/mem"))
        .map_err(|e| ClockError::Os {
            what: "opening the target's memory",
            source: e,
        })?;
    let word = |addr: u64| -> Result<u64, ClockError> {
        let mut b = [0u8; 8];
        mem.read_exact_at(&mut b, addr)
            .map_err(|e| ClockError::Os {
                what: "reading the target's stack",
                source: e,
            })?;
        Ok(u64::from_ne_bytes(b))
    };
    // At the exec stop the stack holds argc, argv[], NULL, envp[], NULL, auxv.
    let mut p = regs.rsp;
    let argc = word(p)?;
    if argc > 1 << 20 {
        return Err(ClockError::Invalid(format!("implausible argc {argc}")));
    }
    p += 8 * (argc + 2);
    let mut envs = 0;
    while word(p)? != 0 {
        p += 8;
        envs += 1;
        if envs > 1 << 20 {
            return Err(ClockError::Invalid("no end of environment".into()));
        }
    }
    p += 8;
    for _ in 0..512 {
        let key = word(p)?;
        if key == AT_NULL {
            return Ok(()); // no vDSO announced: nothing to hide
        }
        if key == AT_SYSINFO_EHDR {
            mem.write_all_at(&AT_IGNORE.to_ne_bytes(), p)
                .map_err(|e| ClockError::Os {
                    what: "rewriting the target's auxv",
                    source: e,
                })?;
            return Ok(());
        }
        p += 16;
    }
    Err(ClockError::Invalid("no end of auxv".into()))
}

/// The offset in nanoseconds, re-read when the file changes (one stat per
/// clock read; the nemesis replaces the file by rename).
struct Offset {
    path: PathBuf,
    seen: Option<(u64, i64, i64, u64)>,
    ns: i64,
}

impl Offset {
    fn get(&mut self) -> i64 {
        match std::fs::metadata(&self.path) {
            Err(_) => {
                self.seen = None;
                self.ns = 0;
            }
            Ok(m) => {
                let key = (m.ino(), m.mtime(), m.mtime_nsec(), m.len());
                if self.seen != Some(key) {
                    self.seen = Some(key);
                    match std::fs::read_to_string(&self.path)
                        .ok()
                        .and_then(|s| s.trim().parse::<i64>().ok())
                    {
                        Some(v) => self.ns = v,
                        // Keep the last good value: a torn or bad write must
                        // not make the clock jump back to real time.
                        None => eprintln!(
                            "faultline clock supervisor: {}: not an integer of nanoseconds",
                            self.path.display()
                        ),
                    }
                }
            }
        }
        self.ns
    }
}

fn now(clock: u32) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: fills a live timespec; the supervisor is not under the filter.
    unsafe { libc::clock_gettime(clock as libc::clockid_t, &mut ts) };
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

fn write_remote(pid: u32, addr: u64, bytes: &[u8]) -> bool {
    let local = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // SAFETY: copies from a live local buffer into the target (checked by the kernel).
    let n = unsafe { libc::process_vm_writev(pid as i32, &local, 1, &remote, 1, 0) };
    n == bytes.len() as isize
}

fn serve(listener: i32, offset_file: &Path) -> Result<(), ClockError> {
    let mut offset = Offset {
        path: offset_file.to_path_buf(),
        seen: None,
        ns: 0,
    };
    loop {
        let mut pfd = libc::pollfd {
            fd: listener,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polls one live pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, 1000) };
        if r < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(os("poll"));
        }
        if r == 0 {
            continue;
        }
        if pfd.revents & libc::POLLIN == 0 {
            // POLLHUP: every process under the filter has exited.
            return Ok(());
        }
        let mut n = SeccompNotif::default();
        // SAFETY: RECV fills a zeroed seccomp_notif.
        if unsafe { libc::ioctl(listener, IOCTL_NOTIF_RECV, &mut n) } != 0 {
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::ENOENT) | Some(libc::EINTR) => continue,
                _ => return Err(os("receiving a notification")),
            }
        }
        let mut resp = SeccompNotifResp {
            id: n.id,
            ..SeccompNotifResp::default()
        };
        // The target may have died and its PID been reused: check the
        // notification is still live before writing into its memory.
        // SAFETY: ID_VALID reads a u64.
        let valid = unsafe { libc::ioctl(listener, IOCTL_NOTIF_ID_VALID, &n.id) } == 0;
        if valid {
            answer(&n, &mut resp, &mut offset);
        }
        // SAFETY: SEND reads a seccomp_notif_resp; ENOENT (target gone) is fine.
        unsafe { libc::ioctl(listener, IOCTL_NOTIF_SEND, &resp) };
    }
}

fn answer(n: &SeccompNotif, resp: &mut SeccompNotifResp, offset: &mut Offset) {
    let args = n.data.args;
    let shifted = |clock: u32, offset: &mut Offset| now(clock) + offset.get() as i128;
    let split = |t: i128| {
        (
            t.div_euclid(1_000_000_000) as i64,
            t.rem_euclid(1_000_000_000) as i64,
        )
    };
    match n.data.nr as u32 {
        NR_CLOCK_GETTIME => {
            let (s, ns) = split(shifted(args[0] as u32, offset));
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&s.to_ne_bytes());
            b[8..].copy_from_slice(&ns.to_ne_bytes());
            if args[1] == 0 || !write_remote(n.pid, args[1], &b) {
                resp.error = -libc::EFAULT;
            }
        }
        NR_GETTIMEOFDAY => {
            let (s, ns) = split(shifted(CLOCK_REALTIME, offset));
            if args[0] != 0 {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&s.to_ne_bytes());
                b[8..].copy_from_slice(&(ns / 1000).to_ne_bytes());
                if !write_remote(n.pid, args[0], &b) {
                    resp.error = -libc::EFAULT;
                    return;
                }
            }
            // The obsolete timezone: UTC, no DST.
            if args[1] != 0 && !write_remote(n.pid, args[1], &[0u8; 8]) {
                resp.error = -libc::EFAULT;
            }
        }
        NR_TIME => {
            let (s, _) = split(shifted(CLOCK_REALTIME, offset));
            if args[0] != 0 && !write_remote(n.pid, args[0], &s.to_ne_bytes()) {
                resp.error = -libc::EFAULT;
                return;
            }
            resp.val = s;
        }
        _ => resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE,
    }
}
