#!/usr/bin/env python3
"""Turn the `make bench` guest consoles into the results table and chart.

Reads the HMM-BENCH lines of our kernel's and the base kernel's consoles
(one or more boots each, on the wall clock and/or on QEMU's instruction
count clock), takes the median of all repetitions after each boot's
warm-up, writes results.md (one set of columns per clock, with the ratio
base/ours, above 1 meaning ours is faster), results.json (the medians) and
chart.png (rows 1-3, per page against range size) into --out, prints the
table and exits non-zero if any guest failed a benchmark, did not finish,
or logged a kernel splat (the console scan of vm/verdict.py).

    report.py --compare A.json B.json
prints how far two runs' icount medians are apart, row by row.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'vm'))
from verdict import console_suite, guest_suite, machine, read_console  # noqa: E402

SIZES = [4 << 20, 64 << 20, 1 << 30]
THP_SIZES = [4 << 20, 64 << 20]
ROWS = [
    # key, label, sizes (None: the row has no range size)
    ('mempass', 'ref. memory pass (read+write one u64 per page) [r]', SIZES),
    ('snapshot', '1. hmm_range_fault snapshot, 4 KiB pages', SIZES),
    ('snapshot_thp', '2. hmm_range_fault snapshot, THP (PMD-mapped)', SIZES),
    ('fault', '3. hmm_range_fault REQ_FAULT+REQ_WRITE, unpopulated', SIZES),
    ('migrate_to', '4a. migrate to device-private memory', SIZES),
    ('migrate_back', '4b. back by CPU fault (migrate_to_ram)', SIZES),
    ('migrate', '4. migrate round trip (4a + 4b)', SIZES),
    ('invalidate', '5. mprotect of one page, N notifiers [*]', [10, 1000, 100000, 1000000]),
    ('interval_mem', '5m. memory per interval notifier [m]', [100000, 1000000]),
    ('seq', '6. mmu_interval_read_begin + read_retry', [0]),
    ('thp4k_to', '7a. THP-backed memory to device, 4 KiB device pages', THP_SIZES),
    ('thp4k_back', '7b. back by CPU fault', THP_SIZES),
    ('thp4k', '7. THP round trip, 4 KiB device pages (7a + 7b)', THP_SIZES),
    ('thp2m_to', '8a. THP-backed memory to device, 2 MiB device folios [t]', THP_SIZES),
    ('thp2m_back', '8b. back by CPU fault, 2 MiB at a time [t]', THP_SIZES),
    ('thp2m', '8. THP round trip, 2 MiB device folios (8a + 8b) [t]', THP_SIZES),
    ('sparse_snapshot', '9a. snapshot, 4 GiB with one page per 64 MiB [s]', [4 << 30]),
    ('sparse_fault', '9b. fault requested on those pages only [s]', [4 << 30]),
    ('flush', '10. mprotect of one page, 4 devices, 1 ms TLB flush each [f]', [1, 2]),
]
# measured once per boot, not repeated
SINGLE = {'interval_mem'}


def base_value(base, key, size):
    """The base kernel's figure for a row: for rows 8 (device THPs, which
    the base does not have) its figure for the same move with 4 KiB device
    pages, the only way it has."""
    if key.startswith('thp2m'):
        key = 'thp4k' + key[len('thp2m'):]
    return base.get((key, size))


def human(size, key):
    if key in ('invalidate', 'interval_mem'):
        return f'N = {size:,}'
    if key == 'seq':
        return '-'
    if key == 'flush':
        return 'one pass' if size == 1 else 'two passes'
    if size >= 1 << 30:
        return f'{size >> 30} GiB'
    return f'{size >> 20} MiB'


def parse(lines, res):
    """Adds the repetitions of one console to res {(row, size): (unit, values)};
    returns the console's problems: benchmark failures and notes, a program
    that did not finish or whose count of failures disagrees with them."""
    fails = []
    done = None
    for line in lines:
        f = line.split()
        if not f:
            continue
        if f[0] == 'HMM-BENCH' and len(f) >= 6:
            # f[4] is the warm-up
            res.setdefault((f[1], int(f[2])), (f[3], []))[1].extend(float(v) for v in f[5:])
        elif f[0] in ('HMM-BENCH-FAIL', 'HMM-BENCH-NOTE'):
            fails.append(line)
        elif f[0] == 'HMM-BENCH-NA':
            # a row this kernel cannot run: no figure, and not a failure
            continue
        elif f[0] == 'HMM-BENCH-DONE':
            done = line
    if done is None:
        fails.append('the benchmark program did not finish')
    elif done != f'HMM-BENCH-DONE failures={sum(l.startswith("HMM-BENCH-FAIL") for l in fails)}':
        fails.append(f'{done}, but the console shows other HMM-BENCH-FAIL lines')
    return fails


def problems(name, path, res):
    """Parses one console into res; returns its problems, the benchmark's
    and the guest's (checks, job, watchdog, splats), each tagged with it."""
    lines = read_console(path)
    tag = f'{name} ({os.path.basename(path)})'
    bad = parse(lines, res)
    for s in (guest_suite(lines), console_suite(lines)):
        bad += [f'{c} {n}'.strip() for c, st, n in s.cases if st != 'PASS']
    return [f'{tag}: {b}' for b in bad]


def medians(res):
    """{(row, size): (unit, median, number of repetitions)}"""
    return {k: (u, statistics.median(v), len(v)) for k, (u, v) in res.items()}


def fmt(v):
    if v is None:
        return 'n/a'
    if v >= 100:
        return f'{v:,.0f}'
    return f'{v:.1f}' if v >= 10 else f'{v:.2f}'


CLOCKS = ('wall', 'icount')


def unit_for(unit, clock, key=''):
    """Under the icount clock one guest nanosecond is one instruction, except
    in row 10, which mostly waits for timers: an idle icount guest skips to
    its next timer, so there it stays virtual time."""
    if clock == 'icount' and key != 'flush':
        return unit.replace('us/', 'k insn/').replace('ns/', 'insn/')
    return unit


def cells(ours, base, key, size, clock):
    """One clock's columns of a row: ours, base, base/ours, ours/ref."""
    o, b = ours.get((key, size)), base_value(base, key, size)
    if not o and not b:
        return ['not run [+]', 'not run [+]', '', ''], None
    om, bm = (o[1] if o else None), (b[1] if b else None)
    # icount figures are exact enough for a third digit, wall ones are not
    ratio = (f'{bm / om:.3f}' if clock == 'icount' else f'{bm / om:.2f}') if om and bm else 'n/a'
    ref = ''
    if key.startswith('snapshot') or key == 'fault':
        ro = ours.get(('mempass', size))
        ref = f'{om / ro[1]:.1f}x' if om and ro else ''
    return [fmt(om), fmt(bm), ratio, ref], unit_for((o or b)[0], clock, key)


def table(res):
    """res: {clock: (ours, base)} for the clocks that ran."""
    clocks = [c for c in CLOCKS if c in res]
    head = ['benchmark', 'size']
    for c in clocks:
        head += [f'{c}: unit', f'{c}: ours', f'{c}: base', f'{c}: base/ours', f'{c}: ours / ref']
    out = ['| ' + ' | '.join(head) + ' |',
           '| --- | --- |' + ' --- | ---: | ---: | ---: | ---: |' * len(clocks)]
    for key, label, sizes in ROWS:
        for size in sizes:
            row = [label, human(size, key)]
            for c in clocks:
                vals, unit = cells(*res[c], key, size, c)
                row += [unit or ''] + vals
            out.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(out)


def chart_data(ours, base, path):
    with open(path, 'w') as f:
        f.write('# size_mib ' + ' '.join(f'{k}_{w}' for k in ('snapshot', 'snapshot_thp', 'fault')
                                         for w in ('ours', 'base')) + '\n')
        for size in SIZES:
            vals = []
            for key in ('snapshot', 'snapshot_thp', 'fault'):
                for res in (ours, base):
                    r = res.get((key, size))
                    vals.append(f'{r[1]:.4f}' if r else 'NaN')
            f.write(f'{size >> 20} ' + ' '.join(vals) + '\n')


def chart(res, outdir):
    """One panel per clock that ran, side by side."""
    clocks = [c for c in CLOCKS if c in res]
    titles = ['1. snapshot, 4 KiB pages', '2. snapshot, THP', '3. fault + write, unpopulated']
    png = os.path.join(outdir, 'chart.png')
    panels = []
    for c in clocks:
        data = os.path.join(outdir, f'chart-{c}.dat')
        chart_data(*res[c], data)
        plots = []
        for i, t in enumerate(titles):
            c_ours, c_base = 2 + 2 * i, 3 + 2 * i
            plots.append(f"'{data}' using 1:{c_ours} with linespoints lw 2 lc {i + 1} pt 7 "
                         f"title '{t} (ours)'")
            plots.append(f"'{data}' using 1:{c_base} with linespoints lw 2 lc {i + 1} dt 2 pt 4 "
                         f"title '{t} (base)'")
        per = 'instructions' if c == 'icount' else 'ns'
        panels.append(f"""
set title '{c} clock: {per} per page (median)'
set ylabel '{per} per page (log)'
plot {', '.join(plots)}
""")
    script = f"""
set terminal pngcairo size {700 * len(clocks)},760 font 'Sans,10'
set output '{png}'
set multiplot layout 1,{len(clocks)} title 'hmm\\_range\\_fault() under QEMU TCG: ours (solid) vs base 6.1 (dashed)'
set logscale xy
set xlabel 'range size'
set xtics ('4 MiB' 4, '64 MiB' 64, '1 GiB' 1024)
set xrange [3:1400]
set grid
set key outside bottom center horizontal maxcols 1
{''.join(panels)}
unset multiplot
"""
    subprocess.run(['gnuplot'], input=script, text=True, check=True)
    return png


def compare(a_path, b_path):
    """Prints the icount medians of two runs side by side; returns the
    largest relative difference."""
    with open(a_path) as f:
        a = json.load(f).get('icount', {})
    with open(b_path) as f:
        b = json.load(f).get('icount', {})
    worst = 0.0
    for kernel in ('ours', 'base'):
        for k in sorted(set(a.get(kernel, {})) & set(b.get(kernel, {}))):
            x, y = a[kernel][k], b[kernel][k]
            d = abs(x - y) / max(x, y) if max(x, y) else 0.0
            worst = max(worst, d)
            print(f'{kernel:4} {k:28} {x:14.3f} {y:14.3f} {100 * d:7.3f}%')
    print(f'largest difference: {100 * worst:.3f}%')
    return worst


def main():
    if len(sys.argv) == 4 and sys.argv[1] == '--compare':
        return 1 if compare(sys.argv[2], sys.argv[3]) > 0.01 else 0
    ap = argparse.ArgumentParser()
    ap.add_argument('--ours', action='extend', nargs='+', default=[], help="our kernel's wall-clock consoles")
    ap.add_argument('--base', action='extend', nargs='+', default=[], help="the base kernel's wall-clock consoles")
    ap.add_argument('--ours-icount', action='extend', nargs='+', default=[], help="our kernel's icount consoles")
    ap.add_argument('--base-icount', action='extend', nargs='+', default=[], help="the base kernel's icount consoles")
    ap.add_argument('--out', required=True)
    ap.add_argument('--note', default='')
    a = ap.parse_args()

    logs = {'wall': (a.ours, a.base), 'icount': (a.ours_icount, a.base_icount)}
    res, bad, reps, boots = {}, [], {}, {}
    for clock, (lo, lb) in logs.items():
        if not lo and not lb:
            continue
        if not lo or not lb:
            ap.error(f'{clock}: consoles of both kernels are needed')
        raw = {'ours': {}, 'base': {}}
        for name, paths in (('ours', lo), ('base', lb)):
            for path in paths:
                bad += [f'{clock}: {b}' for b in problems(name, path, raw[name])]
        res[clock] = (medians(raw['ours']), medians(raw['base']))
        reps[clock] = min([r[2] for k, r in list(res[clock][0].items()) + list(res[clock][1].items())
                           if k[0] not in SINGLE] or [0])
        boots[clock] = len(lo)
    if not res:
        ap.error('no consoles')
    m = machine()
    how = '; '.join(f'{c}: median of {reps[c]} repetitions, {boots[c]} boot'
                    f'{"s" if boots[c] != 1 else ""} per kernel' for c in res)
    two_pass = []
    for clock, (ours, _) in res.items():
        flush = [ours.get(('flush', n)) for n in (1, 2)]
        if all(flush):
            two_pass.append(f'Row 10 ({clock}): with two-pass notifiers an invalidation of four '
                            f'devices costs {flush[0][1] / flush[1][1]:.2f} times less (one pass / '
                            'two passes, ours).')
    if two_pass:
        two_pass.append('')

    md = ['# HMM benchmarks: ours against the base 6.1 implementation', '',
          f'{how} (kernels alternating, each boot after a warm-up), timed in',
          'the guest kernel with ktime around the operation only (row 5 excepted),',
          'same module and config in both kernels.',
          f'QEMU TCG, {m["MACHINE_CPUS"]} vCPUs (icount: 1), {m["MACHINE_MEM_GIB"]} GiB '
          f'({m["MACHINE_SPM_MIB"]} MiB reserved). base/ours above 1 means ours',
          'is faster. "ours / ref" is the time per page divided by the',
          "reference memory pass at the same size, on our kernel.",
          '- wall: the guest clock follows the host (multi-threaded TCG); figures',
          'move with the host load, only the ratios mean something.',
          '- icount: QEMU runs with -icount shift=0 (one vCPU, virtual time advances',
          '1 ns per guest instruction), so each figure is a count of guest',
          'instructions (insn): repeatable to well under 1% whatever the host does,',
          'but blind to what real hardware adds per instruction (cache misses, TLB',
          'misses, branch mispredictions, memory bandwidth).', '',
          table(res), '', *two_pass,
          '- [*] Row 5 is timed in user space around the mprotect() system call',
          '(clock_gettime(CLOCK_MONOTONIC), 10,000 calls per repetition); mprotect has',
          'no kernel-callable entry. It is the whole system call, of which the',
          'notifier walk is a part; N interval notifiers over disjoint ranges, exactly',
          'one overlapping the page.',
          '- [r] The reference runs the same code in both kernels: its wall ratio shows',
          'the noise of the shared machine, not a difference between the kernels.',
          '- Row 4 is timed in the kernel: 4a is migrate_vma_setup/pages/finalize into',
          "the module's device-private memory (batches of 512 pages), 4b faults every",
          'page back with handle_mm_fault() under the mmap read lock, which calls',
          'migrate_to_ram() exactly as a CPU touch does; 4 is their sum.',
          '- Row 6 loops in the module without taking a driver lock around read_retry.',
          '- Rows 7 and 8 move THP-backed memory (fresh, PMD-mapped THPs each time) to',
          'device-private memory and back by CPU fault, timed as row 4. Row 7 moves it',
          'in 4 KiB device pages, which splits every THP on the way (what the base',
          'kernel does). [t] Row 8 moves each THP whole into a 2 MiB device folio',
          '(MIGRATE_VMA_SELECT_COMPOUND) and the first CPU fault on it brings the',
          '2 MiB back into a THP; the base kernel cannot, so its column repeats its',
          'row 7 figure: base/ours is then the gain over the base kernel.',
          '- [m] MemFree before and after inserting the N notifiers of row 5, per',
          'notifier: what a driver pays per interval (the struct it embeds; the core',
          'allocates nothing more per interval). Measured once per boot.',
          '- [s] Row 9 is per page of the whole 4 GiB range (64 populated pages, the',
          'rest never touched): the walk skips holes per page table, the output',
          'still has one entry per page (9b reads one input entry per page too).',
          '- [f] Row 10 is timed like row 5 (100 calls per repetition): four interval',
          'notifiers over the page, each a device whose invalidation waits for a',
          '1 ms TLB flush run by a work item; in one pass the flushes run one after',
          'the other, with two-pass notifiers (ours only, n/a on 6.1) they overlap.',
          'Their ratio is what two passes save.']
    for clock, (ours, _) in res.items():
        for size in THP_SIZES:
            o4, o2 = ours.get(('thp4k', size)), ours.get(('thp2m', size))
            if o4 and o2:
                md.insert(md.index('- Row 6 loops in the module without taking a driver lock around read_retry.'),
                          f'- Ours ({clock}), {human(size, "thp4k")} of THPs: 4 KiB device pages / 2 MiB '
                          f'device folios = {o4[1] / o2[1]:.1f}x for the round trip.')
    if any(k not in o and k not in b for o, b in res.values()
           for k in ((r[0], z) for r in ROWS for z in r[2]) if k[0] != 'flush'):
        md.insert(md.index('- Row 6 loops in the module without taking a driver lock around read_retry.'),
                  "- [+] Not run: the range is larger than the module's device-private pool.")
    if a.note:
        md += ['', a.note]
    if bad:
        md += ['', '**Problems:**', ''] + [f'- {b}' for b in bad]
    os.makedirs(a.out, exist_ok=True)
    text = '\n'.join(md) + '\n'
    with open(os.path.join(a.out, 'results.md'), 'w') as f:
        f.write(text)
    with open(os.path.join(a.out, 'results.json'), 'w') as f:
        json.dump({c: {k: {f'{r}/{z}': v[1] for (r, z), v in d.items()}
                       for k, d in zip(('ours', 'base'), res[c])} for c in res}, f, indent=1)
    print(text)
    try:
        print('chart:', chart(res, a.out))
    except (OSError, subprocess.CalledProcessError) as e:
        bad.append(f'chart: {e}')
        print('chart failed:', e, file=sys.stderr)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
