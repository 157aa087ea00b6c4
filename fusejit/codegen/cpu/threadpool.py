"""The thread pool parallel kernels run on, as LLVM IR: one implementation for the JIT and AOT libraries.

``i32 fj_pool_run(ptr kern, ptr args, i32 mode, i64 total, i64 chunk, ptr scratch, i32 threads)``
runs ``kern(args, mode, lo, hi, scratch)`` over ``[0, total)`` cut into chunks of ``chunk`` units
(the last one shorter) and returns 0 or the code of the lowest-numbered failing chunk (what one
call over the whole range returns, since every kernel stops at its first failing unit).

Caller-participating, not fork-join: the caller publishes the job, wakes sleeping workers and
claims chunks itself from one atomic counter; workers claim from the same counter. The caller
waits only for chunks a worker has claimed and not finished, so a worker that is not scheduled
(asleep, or its core held by another process) costs nothing: the caller runs its share.
The counter word is ``generation << 32 | next chunk``: a worker claims with a compare-and-swap
on the word it read, so a late worker can never claim a chunk of a later job with the fields of
an earlier one. Workers spin ``SPIN`` pause instructions after their last job, then sleep on a
futex (the ``seq`` word, bumped per job; the caller calls ``FUTEX_WAKE`` only if one sleeps).

The pool is process-wide and created lazily by the first parallel call: ``min(threads, cores
online) - 1`` workers, grown when a later call asks for more (a job names how many may join).
``owner`` holds the pid of the caller using the pool (0: free): a second caller that finds it
taken runs all its chunks itself (same results: chunks never change what a unit computes). The
pid makes it fork-safe: in a child, ``owner`` and ``pid`` name the parent, so the child takes
the pool over and starts its own workers (the parent's did not survive ``fork``).
AOT libraries also get a destructor that stops and joins the workers (exit, ``dlclose``).
"""

from __future__ import annotations

import platform

from llvmlite import ir

from .types import I32, I64, PTR, i64

RUN = "fj_pool_run"
KERN_FN = ir.FunctionType(I32, [PTR, I32, I64, I64, PTR])
RUN_FN = ir.FunctionType(I32, [PTR, PTR, I32, I64, I64, PTR, I32])
SPIN = 2_000  # pause instructions a worker spins after a job before it sleeps: ~60 us here
YIELD_AFTER = 256  # pauses the caller spins on a claimed chunk before it yields its core
YIELD_EVERY = 64  # a worker spinning on its caller's core yields it every so many pauses (a power of 2)
MAX_WORKERS = 63
_FIELDS = ("kern", "args", "mode", "total", "chunk", "nchunks", "scratch", "nworkers", "cpu")
_FUTEX = {"x86_64": 202, "aarch64": 98}  # syscall numbers
_PAUSE = {"x86_64": ("llvm.x86.sse2.pause", ()), "aarch64": ("llvm.aarch64.hint", (1,))}  # spin-wait hints
FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE = 128, 129
_SC_NPROCESSORS_ONLN = 84  # glibc
SIG_BLOCK, SIG_SETMASK = 0, 2


def declare_run(module: ir.Module) -> ir.Function:
    """``fj_pool_run`` in ``module``: the JIT resolves it to the pool module, AOT defines it in place."""
    fn = module.globals.get(RUN)
    return fn if fn is not None else ir.Function(module, RUN_FN, RUN)


class _Callee:
    """A ``ptr`` value called as a function of ``function_type`` (llvmlite needs the type)."""

    def __init__(self, value: ir.Value, function_type: ir.FunctionType) -> None:
        self.value, self.function_type, self.type = value, function_type, value.type

    def get_reference(self) -> str:
        return self.value.get_reference()


class _Pool:
    def __init__(self, module: ir.Module, arch: str) -> None:
        if arch not in _FUTEX:
            raise NotImplementedError(f"the thread pool has no futex syscall number for {arch}")
        self.m, self.arch = module, arch
        self.g = {name: self._global(name, ty) for name, ty in (
            ("word", I64), ("done", I64), ("err", I64), ("seq", I32), ("sleepers", I32), ("owner", I32),
            ("pid", I32), ("started", I32), ("stop", I32), ("cores", I32),
            ("job", ir.ArrayType(I64, len(_FIELDS))), ("handles", ir.ArrayType(I64, MAX_WORKERS)))}
        self.libc = {name: self._extern(name, ty) for name, ty in (
            ("getpid", ir.FunctionType(I32, [])), ("sysconf", ir.FunctionType(I64, [I32])),
            ("sched_yield", ir.FunctionType(I32, [])), ("sched_getcpu", ir.FunctionType(I32, [])),
            ("syscall", ir.FunctionType(I64, [I64], var_arg=True)),
            ("pthread_create", ir.FunctionType(I32, [PTR, PTR, PTR, PTR])),
            ("pthread_join", ir.FunctionType(I32, [I64, PTR])),
            ("pthread_sigmask", ir.FunctionType(I32, [I32, PTR, PTR])))}

    def _global(self, name: str, ty: ir.Type) -> ir.GlobalVariable:
        g = ir.GlobalVariable(self.m, ty, f"fj_pool.{name}")
        g.linkage = "internal"
        g.initializer = ir.Constant(ty, None)
        g.align = 64  # each hot word on its own cache line
        return g

    def _extern(self, name: str, ty: ir.FunctionType) -> ir.Function:
        return self.m.globals.get(name) or ir.Function(self.m, ty, name)

    def _function(self, name: str, ty: ir.FunctionType) -> tuple[ir.Function, ir.IRBuilder]:
        fn = self.m.globals.get(name) or ir.Function(self.m, ty, name)
        fn.linkage = "internal"
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))

    # small helpers over the builder ------------------------------------------------------------
    def load(self, b: ir.IRBuilder, name: str, order: str = "acquire", ty: ir.Type | None = None) -> ir.Value:
        ty = ty or self.g[name].value_type
        return b.load_atomic(self.g[name], order, ty.width // 8, typ=ty)

    def store(self, b: ir.IRBuilder, name: str, value: ir.Value | int, order: str = "release") -> None:
        ty = self.g[name].value_type
        value = ir.Constant(ty, value) if isinstance(value, int) else value
        b.store_atomic(value, self.g[name], order, ty.width // 8)

    def field(self, b: ir.IRBuilder, name: str) -> ir.Value:
        p = b.gep(self.g["job"], [ir.Constant(I32, 0), ir.Constant(I32, _FIELDS.index(name))])
        return p

    def pause(self, b: ir.IRBuilder) -> None:
        name, args = _PAUSE[self.arch]
        hint = self.m.globals.get(name) or ir.Function(self.m, ir.FunctionType(ir.VoidType(), [I32] * len(args)), name)
        b.call(hint, [ir.Constant(I32, a) for a in args])

    def futex(self, b: ir.IRBuilder, op: int, val: ir.Value) -> None:
        b.call(self.libc["syscall"], [i64(_FUTEX[self.arch]), self.g["seq"], i64(op), val, ir.Constant(PTR, None)])

    # the functions -----------------------------------------------------------------------------
    def claim(self) -> ir.Function:
        """``claim(i64 who)``: run chunks of the current job until none is left (who < 0: the
        caller; a worker joins only jobs that allow at least who + 1 workers)."""
        fn, b = self._function("fj_pool.claim", ir.FunctionType(ir.VoidType(), [I64]))
        (who,) = fn.args
        loop, check, claim, run, fail, fin, out = (fn.append_basic_block(n) for n in (
            "loop", "check", "claim", "run", "fail", "fin", "out"))
        b.branch(loop)
        b.position_at_end(loop)
        w = self.load(b, "word")
        i = b.and_(w, i64(0xFFFFFFFF))
        f = {name: b.load_atomic(self.field(b, name), "acquire", 8, typ=I64) for name in _FIELDS}
        b.cbranch(b.icmp_unsigned("<", i, f["nchunks"]), check, out)
        b.position_at_end(check)
        joins = b.or_(b.icmp_signed("<", who, i64(0)), b.icmp_signed("<", who, f["nworkers"]))
        b.cbranch(joins, claim, out)
        b.position_at_end(claim)
        won = b.extract_value(b.cmpxchg(self.g["word"], w, b.add(w, i64(1)), "acq_rel", "acquire"), 1)
        b.cbranch(won, run, loop)
        b.position_at_end(run)
        lo = b.mul(i, f["chunk"])
        hi = b.add(lo, f["chunk"])
        hi = b.select(b.icmp_unsigned("<", hi, f["total"]), hi, f["total"])
        kern = _Callee(b.inttoptr(f["kern"], PTR), KERN_FN)
        rc = b.call(kern, [b.inttoptr(f["args"], PTR), b.trunc(f["mode"], I32), lo, hi,
                           b.inttoptr(f["scratch"], PTR)])
        b.cbranch(b.icmp_signed("!=", rc, ir.Constant(I32, 0)), fail, fin)
        b.position_at_end(fail)  # lowest failing chunk wins: deterministic whoever ran it
        b.atomic_rmw("umin", self.g["err"], b.or_(b.shl(i, i64(32)), b.zext(rc, I64)), "monotonic")
        b.branch(fin)
        b.position_at_end(fin)
        b.atomic_rmw("add", self.g["done"], i64(1), "release")
        b.branch(loop)
        b.position_at_end(out)
        b.ret_void()
        return fn

    def worker(self, claim: ir.Function) -> ir.Function:
        """``ptr worker(ptr arg)``: wait for a new ``seq``, claim, repeat; spin, then sleep."""
        fn, b = self._function("fj_pool.worker", ir.FunctionType(PTR, [PTR]))
        arg = b.ptrtoint(fn.args[0], I64)  # seq when it was started << 32 | its index
        who = b.and_(arg, i64(0xFFFFFFFF))
        seen = b.alloca(I32, name="seen")
        spins = b.alloca(I32, name="spins")
        shared = b.alloca(ir.IntType(1), name="shared")  # on the core of the last job's caller
        b.store(ir.Constant(ir.IntType(1), 0), shared)
        b.store(b.trunc(b.lshr(arg, i64(32)), I32), seen)  # so it joins the job that started it
        b.store(ir.Constant(I32, 0), spins)
        wait, job, work, idle, spin, give, sleep, block, awake, stop = (fn.append_basic_block(n) for n in (
            "wait", "job", "work", "idle", "spin", "give", "sleep", "block", "awake", "stop"))
        b.branch(wait)
        b.position_at_end(wait)
        s = self.load(b, "seq")
        b.cbranch(b.icmp_unsigned("!=", s, b.load(seen)), job, idle)
        b.position_at_end(job)
        b.store(s, seen)
        b.cbranch(b.icmp_unsigned("!=", self.load(b, "stop"), ir.Constant(I32, 0)), stop, work)
        b.position_at_end(work)
        b.call(claim, [who])
        b.store(ir.Constant(I32, 0), spins)
        caller = b.trunc(b.load_atomic(self.field(b, "cpu"), "monotonic", 8, typ=I64), I32)
        b.store(b.icmp_signed("==", b.call(self.libc["sched_getcpu"], []), caller), shared)
        b.branch(wait)
        b.position_at_end(idle)
        n = b.load(spins)
        b.cbranch(b.icmp_unsigned("<", n, ir.Constant(I32, SPIN)), spin, sleep)
        b.position_at_end(spin)  # on the caller's core, yielding now and then so the caller gets it
        self.pause(b)
        n = b.add(n, ir.Constant(I32, 1))
        b.store(n, spins)
        polite = b.icmp_unsigned("==", b.and_(n, ir.Constant(I32, YIELD_EVERY - 1)), ir.Constant(I32, 0))
        polite = b.and_(polite, b.load(shared))
        b.cbranch(polite, give, wait)
        b.position_at_end(give)
        b.call(self.libc["sched_yield"], [])
        b.branch(wait)
        b.position_at_end(sleep)  # announce, re-check, sleep (the caller wakes only announced sleepers)
        b.atomic_rmw("add", self.g["sleepers"], ir.Constant(I32, 1), "seq_cst")
        b.cbranch(b.icmp_unsigned("==", self.load(b, "seq", "seq_cst"), b.load(seen)), block, awake)
        b.position_at_end(block)
        self.futex(b, FUTEX_WAIT_PRIVATE, b.zext(b.load(seen), I64))
        b.branch(awake)
        b.position_at_end(awake)
        b.atomic_rmw("sub", self.g["sleepers"], ir.Constant(I32, 1), "seq_cst")
        b.branch(wait)
        b.position_at_end(stop)
        b.ret(ir.Constant(PTR, None))
        return fn

    def run(self, claim: ir.Function, worker: ir.Function, internal: bool) -> ir.Function:
        fn = declare_run(self.m)
        if internal:
            fn.linkage = "internal"
        kern, args, mode, total, chunk, scratch, threads = fn.args
        blocks = {n: fn.append_basic_block(n) for n in (
            "entry", "take", "grab", "owned", "reset", "ready", "cores", "sized", "spawn", "start", "started",
            "publish", "wake", "work", "wait", "pause", "yield", "finish", "release", "serial")}
        b = ir.IRBuilder(blocks["entry"])
        count = b.alloca(I32, name="count")
        sigsets = b.alloca(ir.ArrayType(I64, 16), 2, name="sigsets")  # 2 x sigset_t (128 bytes)

        def at(name: str) -> None:
            b.position_at_end(blocks[name])

        nchunks = b.udiv(b.add(total, b.sub(chunk, i64(1))), chunk)
        few = b.or_(b.icmp_signed("<=", threads, ir.Constant(I32, 1)), b.icmp_unsigned("<=", nchunks, i64(1)))
        b.cbranch(few, blocks["serial"], blocks["take"])
        at("take")
        pid = b.call(self.libc["getpid"], [])
        owner = self.load(b, "owner", "monotonic")
        b.cbranch(b.icmp_signed("==", owner, pid), blocks["serial"], blocks["grab"])  # busy: run it all here
        at("grab")  # free (0) or held by the parent before a fork (another pid): take it
        won = b.extract_value(b.cmpxchg(self.g["owner"], owner, pid, "acquire", "monotonic"), 1)
        b.cbranch(won, blocks["owned"], blocks["serial"])
        at("owned")
        b.cbranch(b.icmp_signed("!=", self.load(b, "pid", "monotonic"), pid), blocks["reset"], blocks["ready"])
        at("reset")  # first use in this process: no worker exists (none survives a fork)
        self.store(b, "pid", pid, "monotonic")
        self.store(b, "started", 0, "monotonic")
        self.store(b, "sleepers", 0, "monotonic")
        self.store(b, "stop", 0, "monotonic")
        b.branch(blocks["ready"])
        at("ready")
        b.cbranch(b.icmp_signed("==", self.load(b, "cores", "monotonic"), ir.Constant(I32, 0)),
                  blocks["cores"], blocks["sized"])
        at("cores")
        online = b.trunc(b.call(self.libc["sysconf"], [ir.Constant(I32, _SC_NPROCESSORS_ONLN)]), I32)
        one = ir.Constant(I32, 1)
        self.store(b, "cores", b.select(b.icmp_signed("<", online, one), one, online), "monotonic")
        b.branch(blocks["sized"])
        at("sized")
        cores = self.load(b, "cores", "monotonic")
        want = b.sub(b.select(b.icmp_signed("<", threads, cores), threads, cores), one)
        cap = ir.Constant(I32, MAX_WORKERS)
        want = b.select(b.icmp_signed("<", want, cap), want, cap)
        b.cbranch(b.icmp_signed("<=", want, ir.Constant(I32, 0)), blocks["release"], blocks["spawn"])
        at("spawn")
        have = self.load(b, "started", "monotonic")
        b.cbranch(b.icmp_signed("<", have, want), blocks["start"], blocks["publish"])
        at("start")  # workers block every signal: they stay the caller's (a C program's, Python's)
        handle = b.gep(self.g["handles"], [ir.Constant(I32, 0), have])
        arg = b.or_(b.shl(b.zext(self.load(b, "seq", "monotonic"), I64), i64(32)), b.zext(have, I64))
        every, saved = sigsets, b.gep(sigsets, [ir.Constant(I32, 1)])
        b.store(ir.Constant(ir.ArrayType(I64, 16), [-1] * 16), every)
        b.call(self.libc["pthread_sigmask"], [ir.Constant(I32, SIG_BLOCK), every, saved])
        rc = b.call(self.libc["pthread_create"], [handle, ir.Constant(PTR, None), worker, b.inttoptr(arg, PTR)])
        b.call(self.libc["pthread_sigmask"], [ir.Constant(I32, SIG_SETMASK), saved, ir.Constant(PTR, None)])
        b.cbranch(b.icmp_signed("==", rc, ir.Constant(I32, 0)), blocks["started"], blocks["publish"])
        at("started")  # a thread that cannot be started is simply not there: the caller does its share
        self.store(b, "started", b.add(have, one), "monotonic")
        b.branch(blocks["spawn"])
        at("publish")
        values = {"kern": b.ptrtoint(kern, I64), "args": b.ptrtoint(args, I64), "mode": b.zext(mode, I64),
                  "total": total, "chunk": chunk, "nchunks": nchunks, "scratch": b.ptrtoint(scratch, I64),
                  "nworkers": b.zext(want, I64), "cpu": b.sext(b.call(self.libc["sched_getcpu"], []), I64)}
        for name in _FIELDS:
            b.store_atomic(values[name], self.field(b, name), "release", 8)
        self.store(b, "done", 0, "monotonic")
        self.store(b, "err", -1, "monotonic")
        gen = b.add(b.lshr(self.load(b, "word", "monotonic"), i64(32)), i64(1))
        self.store(b, "word", b.shl(gen, i64(32)))  # next chunk 0 of a new generation
        b.atomic_rmw("add", self.g["seq"], one, "seq_cst")
        sleepers = self.load(b, "sleepers", "seq_cst")
        b.cbranch(b.icmp_signed("!=", sleepers, ir.Constant(I32, 0)), blocks["wake"], blocks["work"])
        at("wake")
        self.futex(b, FUTEX_WAKE_PRIVATE, i64(MAX_WORKERS))
        b.branch(blocks["work"])
        at("work")
        b.call(claim, [i64(-1)])
        b.store(ir.Constant(I32, 0), count)
        b.branch(blocks["wait"])
        at("wait")  # every chunk is claimed: wait for those a worker is still running
        b.cbranch(b.icmp_unsigned("==", self.load(b, "done"), nchunks), blocks["finish"], blocks["pause"])
        at("pause")
        self.pause(b)
        n = b.add(b.load(count), one)
        b.store(n, count)
        b.cbranch(b.icmp_unsigned(">=", n, ir.Constant(I32, YIELD_AFTER)), blocks["yield"], blocks["wait"])
        at("yield")  # the worker may have been preempted on this core
        b.call(self.libc["sched_yield"], [])
        b.branch(blocks["wait"])
        at("finish")
        err = self.load(b, "err", "monotonic")
        self.store(b, "owner", 0)
        failed = b.icmp_unsigned("!=", err, i64(-1))
        b.ret(b.select(failed, b.trunc(err, I32), ir.Constant(I32, 0)))
        at("release")
        self.store(b, "owner", 0)
        b.branch(blocks["serial"])
        at("serial")
        b.ret(b.call(_Callee(kern, KERN_FN), [args, mode, i64(0), total, scratch]))
        return fn

    def shutdown(self) -> ir.Function:
        """Stop and join this process's workers (a destructor: exit, dlclose); a no-op while a
        call holds the pool or in a child whose workers were never started."""
        fn, b = self._function("fj_pool.shutdown", ir.FunctionType(ir.VoidType(), []))
        grab, stop, loop, join, done, out = (fn.append_basic_block(n) for n in (
            "grab", "stop", "loop", "join", "done", "out"))
        pid = b.call(self.libc["getpid"], [])
        b.cbranch(b.icmp_signed("==", self.load(b, "pid", "monotonic"), pid), grab, out)
        b.position_at_end(grab)
        won = b.extract_value(b.cmpxchg(self.g["owner"], ir.Constant(I32, 0), pid, "acquire", "monotonic"), 1)
        b.cbranch(won, stop, out)
        b.position_at_end(stop)
        self.store(b, "stop", 1, "seq_cst")
        b.atomic_rmw("add", self.g["seq"], ir.Constant(I32, 1), "seq_cst")
        self.futex(b, FUTEX_WAKE_PRIVATE, i64(MAX_WORKERS))
        n = self.load(b, "started", "monotonic")
        k = b.alloca(I32, name="k")
        b.store(ir.Constant(I32, 0), k)
        b.branch(loop)
        b.position_at_end(loop)
        i = b.load(k)
        b.cbranch(b.icmp_signed("<", i, n), join, done)
        b.position_at_end(join)
        handle = b.load(b.gep(self.g["handles"], [ir.Constant(I32, 0), i]), typ=I64)
        b.call(self.libc["pthread_join"], [handle, ir.Constant(PTR, None)])
        b.store(b.add(i, ir.Constant(I32, 1)), k)
        b.branch(loop)
        b.position_at_end(done)
        self.store(b, "started", 0, "monotonic")
        self.store(b, "stop", 0, "monotonic")
        self.store(b, "owner", 0)
        b.branch(out)
        b.position_at_end(out)
        b.ret_void()
        return fn


def define_pool(module: ir.Module, *, internal: bool, destructor: bool, arch: str | None = None) -> None:
    """Give ``module`` the pool: ``fj_pool_run`` (internal to the module with ``internal``) and its
    state. ``destructor``: workers are stopped and joined when the object is unloaded (AOT)."""
    pool = _Pool(module, arch or platform.machine())
    claim = pool.claim()
    pool.run(claim, pool.worker(claim), internal)
    if destructor:
        entry = ir.LiteralStructType([I32, PTR, PTR])
        dtors = ir.GlobalVariable(module, ir.ArrayType(entry, 1), "llvm.global_dtors")
        dtors.linkage = "appending"
        dtors.initializer = ir.Constant(ir.ArrayType(entry, 1), [
            ir.Constant(entry, [ir.Constant(I32, 65535), pool.shutdown(), ir.Constant(PTR, None)])])


def pool_module() -> ir.Module:
    """The JIT's pool: a module exporting ``fj_pool_run``, compiled once per process."""
    module = ir.Module("fj_threadpool")
    define_pool(module, internal=False, destructor=False)
    return module
