#!/usr/bin/env python3
"""Judge one `make test` or `make fuzz` console log.

Reads the guest console, parses the KUnit KTAP (with the base tree's
tools/testing/kunit/kunit.py parse), the selftests' TAP and the fuzzer's
runs, reads the guest's own result lines, scans the kernel's own messages
for splats (the list in vm/machine.sh), prints a table per suite and ends
with the line 'N passed, N failed[, N skipped]'. Exit status 1 on any
failure: a failed or errored case, a skip not on the expected-skip list, a
run that did not finish or whose job failed, or a splat in the console (but
for a WARNING a test announced with HMM-EXPECT-WARN-BEGIN, see
console_suite, and for a KCSAN data race outside our files when --ours
names our functions).

--expect says which results the console must have (all of kunit,
selftests, clients and fuzz for `make test`). --fuzz-total LOG... prints the
figures and the one verdict line of several `make fuzz` consoles.

The HMM-* lines it reads, who writes them and what they mean: vm/README.md,
"The guest/host protocol". Its tests: vm/tests/verdict_test.py.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

MACHINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'machine.sh')
KMSG = re.compile(r'^\[ *\d+\.\d+\] ')
TAP = re.compile(r'^(not )?ok (\d+)\s*(.*)$')
DIRECTIVE = re.compile(r'^(?:(\S+)\s+)?#\s*(SKIP|XFAIL)\b\s*(.*)$')
# kselftest_harness.h prints '#   OK  fixture.variant.test' before each
# result, and its skip line carries the reason instead of the name.
HARNESS_STATUS = re.compile(r'^#\s+(?:OK|FAIL)\s+(\S+)$')
PLAN = re.compile(r'^1\.\.(\d+)')


class Suite:
    def __init__(self, name):
        self.name = name
        self.cases = []          # (case, status, note)

    def add(self, case, status, note=''):
        self.cases.append((case, status, note))


def machine(path=MACHINE):
    """The MACHINE_* variables of the guest machine's description, as sh
    sees them once it has sourced the file."""
    env = subprocess.run(['sh', '-c', 'set -a && . "$0" && env -0', path],
                         env={'PATH': os.environ.get('PATH', '/usr/bin:/bin')},
                         check=True, capture_output=True, text=True).stdout
    return dict(v.split('=', 1) for v in env.split('\0')
                if v.startswith('MACHINE_'))


def splat_pattern(desc):
    """One regular expression for the splat list (one per line)."""
    return re.compile('|'.join(l for l in desc['MACHINE_SPLATS'].splitlines() if l))


def read_console(path):
    """A console log's lines, without line ends (QEMU's serial has \\r\\n)."""
    with open(path, errors='replace') as f:
        return [l.rstrip('\r\n') for l in f]


def load_expected_skips(path):
    skips = {}
    if os.path.exists(path):
        for line in read_console(path):
            line = line.split('#', 1)
            name = line[0].strip()
            if name:
                skips[name] = line[1].strip() if len(line) > 1 else ''
    return skips


def kunit_suites(lines, src, workdir):
    """KTAP printed before the guest's init started, parsed by kunit.py."""
    if not any('KTAP version' in l or 'TAP version' in l for l in lines):
        s = Suite('kunit')
        s.add('(run)', 'FAIL', 'no KTAP output: the suites did not run')
        return [s]
    raw = os.path.join(workdir, 'kunit.log')
    out = os.path.join(workdir, 'kunit.json')
    with open(raw, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    subprocess.run([sys.executable, os.path.join(src, 'tools/testing/kunit/kunit.py'),
                    'parse', '--json=' + out, raw],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not os.path.exists(out):
        s = Suite('kunit')
        s.add('parse', 'FAIL', 'kunit.py could not parse the KTAP output')
        return [s]
    suites = []

    def leaves(group, prefix=''):
        for c in group.get('test_cases', []):
            # kunit.py names a case it never saw the result of ''
            yield prefix + (c['name'] or '(no result line)'), c['status']
        for g in group.get('sub_groups', []):
            yield from leaves(g, prefix + g['name'] + '/')

    with open(out) as f:
        top = json.load(f)
    for g in top.get('sub_groups', []):
        s = Suite('kunit: ' + g['name'])
        for name, status in leaves(g):
            s.add(name, status, 'the case crashed or the console stops'
                  if status == 'ERROR' else '')
        if not s.cases:
            s.add('(suite)', 'FAIL', 'suite reported no cases')
        suites.append(s)
    for c in top.get('test_cases', []):
        s = Suite('kunit: ' + c['name'])
        s.add('(suite)', c['status'])
        suites.append(s)
    return suites


def selftest_suites(lines):
    """kselftest TAP from the clean copy the guest prints after the run."""
    try:
        begin = lines.index('HMM-SELFTESTS-BEGIN')
        end = lines.index('HMM-SELFTESTS-END', begin)
    except ValueError:
        s = Suite('selftests')
        s.add('(run)', 'FAIL', 'no selftest output: guest crashed or hung')
        return [s]
    suites = {}
    plan = None
    seen = 0
    last_name = None
    for l in lines[begin + 1:end]:
        m = PLAN.match(l)
        if m:
            plan = int(m.group(1))
            continue
        m = HARNESS_STATUS.match(l)
        if m:
            last_name = m.group(1)
            continue
        m = TAP.match(l)
        if not m:
            continue
        seen += 1
        rest = m.group(3).strip()
        note = ''
        d = DIRECTIVE.match(rest)
        if d:
            name = d.group(1) or last_name or f'case {m.group(2)}'
            directive, note = d.group(2), d.group(3).strip()
        else:
            name, directive = rest or last_name or f'case {m.group(2)}', None
        last_name = None
        if m.group(1):
            status = 'FAIL'
        elif directive == 'SKIP':
            status = 'SKIP'
        else:
            status = 'PASS'
        fixture = name.split('.', 1)[0] if '.' in name else 'global'
        suites.setdefault(fixture, Suite('hmm-tests: ' + fixture)).add(
            name, status, note)
    result = list(suites.values())
    if plan is None or seen != plan:
        s = Suite('selftests')
        s.add('(run)', 'FAIL', f'planned {plan} cases, saw {seen}')
        result.append(s)
    return result


CLIENTS_BEGIN = re.compile(r'HMM-CLIENTS-BEGIN (\d+)$')
CLIENT = re.compile(r'HMM-CLIENT (ok|fail) (\S+)\s*(.*)$')


def clients_suite(lines):
    """The clients suite (vm/jobs/clients.sh): the kernel's own users of the
    core, one case per HMM-CLIENT line of the clean copy the guest prints
    at the end, between HMM-CLIENTS-BEGIN <planned cases> and
    HMM-CLIENTS-END. A case's note is its time and the data it verified."""
    s = Suite('clients')
    begin = next((i for i, l in enumerate(lines) if CLIENTS_BEGIN.match(l)), None)
    if begin is None:
        s.add('(run)', 'FAIL', 'no clients output: the suite did not run or did not finish')
        return s
    plan = int(CLIENTS_BEGIN.match(lines[begin]).group(1))
    seen = 0
    for l in lines[begin + 1:]:
        if l == 'HMM-CLIENTS-END':
            break
        m = CLIENT.match(l)
        if m:
            seen += 1
            s.add(m.group(2), 'PASS' if m.group(1) == 'ok' else 'FAIL', m.group(3))
    else:
        s.add('(run)', 'FAIL', 'the copy of the results is cut short')
    if seen != plan:
        s.add('(run)', 'FAIL', f'planned {plan} cases, saw {seen}')
    return s


JOB_END = re.compile(r'^HMM-JOB-END (\S+) rc=(\d+)$')


def guest_suite(lines):
    """The guest's own checks, its job's end and the host's watchdog."""
    s = Suite('guest')
    end = None
    for l in lines:
        if l.startswith('HMM-CHECK '):
            _, res, name = l.split(None, 2)
            s.add(name, 'PASS' if res == 'ok' else 'FAIL')
        elif l.startswith('HMM-WATCHDOG'):
            s.add('watchdog', 'FAIL', l)
        elif l.startswith('HMM-JOB-END'):
            end = JOB_END.match(l)
    if end is None:
        s.add('job completed', 'FAIL', 'the guest never reached the end of its job')
    elif end.group(2) != '0':
        s.add('job completed', 'FAIL', f'job {end.group(1)} exited with rc={end.group(2)}')
    else:
        s.add('job completed', 'PASS')
    return s


FUZZ_BEGIN = re.compile(r'^HMM-FUZZ-BEGIN (\S+) (.*)$')
FUZZ_END = re.compile(r'^HMM-FUZZ-END (\S+) rc=(\d+)$')
FUZZ_SEED = re.compile(r'^hmm-fuzz: seed (\d+), ')
FUZZ_RESULT = re.compile(r'^hmm-fuzz: (passed|FAILED) \(seed (\d+)\)$')
FUZZ_TOTALS = re.compile(r'^hmm-fuzz: (\d+) ops, (\d+) pages checked, (\d+) forks, ([\d.]+) s$')
FUZZ_CLASS = re.compile(r'^hmm-fuzz: (ioctl|cpu|map|madvise|foreign|bad-input|process)\b(.*)$')
FUZZ_INJECTED = re.compile(r'^fault injection: (\S+) (\d+) failures injected$')


def fuzz_runs(lines):
    """The hmm-fuzz runs of a console, each the guest printed whole between
    HMM-FUZZ-BEGIN and HMM-FUZZ-END: a dict with name, command, rc (None
    when the run never ended), seed, result, the first failure line, the
    figures and the errors by errno (summed over operation classes)."""
    runs = []
    run = None
    for l in lines:
        m = l.startswith('HMM-FUZZ-BEGIN ') and FUZZ_BEGIN.match(l)
        if m:
            run = {'name': m.group(1), 'cmd': m.group(2), 'rc': None, 'seed': None,
                   'result': None, 'fail': None, 'ops': 0, 'pages': 0, 'forks': 0,
                   'secs': 0.0, 'errors': {}, 'injected': {}}
            runs.append(run)
            continue
        if run is None:
            continue
        m = l.startswith('HMM-FUZZ-END ') and FUZZ_END.match(l)
        if m and m.group(1) == run['name']:
            run['rc'] = int(m.group(2))
            run = None
            continue
        if (m := FUZZ_SEED.match(l)):
            run['seed'] = m.group(1)
        elif (m := FUZZ_RESULT.match(l)):
            run['result'] = m.group(1)
        elif l.startswith('hmm-fuzz: FAIL ') and run['fail'] is None:
            run['fail'] = l[len('hmm-fuzz: '):]
        elif (m := FUZZ_TOTALS.match(l)):
            run['ops'], run['pages'], run['forks'] = (int(m.group(i)) for i in (1, 2, 3))
            run['secs'] = float(m.group(4))
        elif (m := FUZZ_CLASS.match(l)):
            words = m.group(2).split()
            for err, n in zip(words[::2], words[1::2]):
                run['errors'][err] = run['errors'].get(err, 0) + int(n)
        elif (m := FUZZ_INJECTED.match(l)):
            run['injected'][m.group(1)] = int(m.group(2))
    return runs


def fuzz_suites(lines):
    """One case per fuzz run: it passes when hmm-fuzz said so and exited 0."""
    s = Suite('fuzz')
    runs = fuzz_runs(lines)
    if not runs:
        s.add('(run)', 'FAIL', 'no fuzz run: guest crashed or hung')
    for r in runs:
        case = f"{r['name']} (seed {r['seed'] or '?'})"
        if r['rc'] is None:
            s.add(case, 'FAIL', 'the run did not finish')
        elif r['rc'] == 0 and r['result'] == 'passed':
            s.add(case, 'PASS')
        else:
            s.add(case, 'FAIL', r['fail'] or f"exit status {r['rc']}")
    return [s]


def fuzz_figures(runs):
    """Lines of a table of the runs' figures, and a total row."""
    def errs(e):
        return ', '.join(f'{k} {v:,}' for k, v in sorted(e.items(), key=lambda x: -x[1]))
    out = ['', 'fuzz figures', '  run (seed)  ops  pages checked  forks  time  results by errno']
    tot = {'ops': 0, 'pages': 0, 'forks': 0, 'secs': 0.0, 'errors': {}}
    for r in runs:
        inj = ''.join(f'; {k} injected {v:,}' for k, v in r['injected'].items())
        out.append(f"  {r['name']} ({r['seed']})  {r['ops']:,}  {r['pages']:,}  {r['forks']:,}  "
                   f"{r['secs']:.0f} s  {errs(r['errors'])}{inj}")
        for k in ('ops', 'pages', 'forks', 'secs'):
            tot[k] += r[k]
        for k, v in r['errors'].items():
            tot['errors'][k] = tot['errors'].get(k, 0) + v
    out.append(f"  total ({len(runs)} runs)  {tot['ops']:,}  {tot['pages']:,}  {tot['forks']:,}  "
               f"{tot['secs']:.0f} s  {errs(tot['errors'])}")
    return out, tot


# A test that provokes a driver bug on purpose brackets it with these kernel
# messages; a WARNING in between is accepted only when it is raised in one of
# the functions the BEGIN line names (together with its call trace).
EXPECT_BEGIN = re.compile(r'HMM-EXPECT-WARN-BEGIN (.+)$')
EXPECT_END = 'HMM-EXPECT-WARN-END'
WARN_AT = re.compile(r'WARNING: .* at \S+ ([\w.]+)\+0x')
END_TRACE = '---[ end trace'


KCSAN = re.compile(r'BUG: KCSAN: ([\w-]+) in ([\w.]+)(?: / ([\w.]+))?')

# With fault injection on (make fuzz's failinject run), the report
# warn_alloc() prints for an allocation that failed ("page allocation
# failure: order:0", "vmemmap alloc failure: order:9"), stack included, is
# the injection's own message.
ALLOC_FAILURE = re.compile(r'(?:page allocation|alloc) failure: order:')
# And WARNINGs of base kernel functions that warn on any error of theirs,
# the -ENOMEM an injected failure causes included: listed, not counted,
# like the KCSAN races outside our files. x86's add_pages() warns when
# __add_pages() fails, which memremap_pages() reaches for device private
# memory once the memmap of the new sections cannot be allocated.
INJECT_BASE_WARNINGS = {'add_pages'}


def symbol(name):
    """A function's name without the compiler's suffixes (.isra.0, .cold)."""
    return name.split('.', 1)[0]


def console_suite(lines, desc=None, ours=None, races=None, inject=None):
    """Splats among the kernel's own messages; desc is machine()'s result.

    ours, when given, is the set of functions defined in our files: a KCSAN
    report whose racing functions include one of them is a splat, any other
    is appended to races (a list) and left to listed_suite(). inject, a list,
    says that allocations were failed on purpose: warn_alloc() reports are
    no splat, and the WARNINGs of INJECT_BASE_WARNINGS are appended to it."""
    splat = splat_pattern(desc or machine())
    s = Suite('console')
    hits = []
    expected = 0
    allowed = None      # functions whose WARNING is expected right now
    in_report = False   # inside the report of an expected WARNING
    injected_until = None   # inside a report of an injected failure, until this
    for l in lines:
        if not KMSG.match(l):
            continue
        k = KCSAN.search(l)
        if k and ours is not None:
            funcs = {symbol(f) for f in k.groups()[1:] if f}
            if funcs & ours:
                hits.append(l + '  (in our files)')
            elif races is not None:
                races.append(l[l.index('BUG: KCSAN'):])
            continue
        if inject is not None:
            w = WARN_AT.search(l)
            if ALLOC_FAILURE.search(l):
                injected_until = 'Mem-Info:'    # show_mem() follows the stack
                continue
            if w and w.group(1) in INJECT_BASE_WARNINGS:
                inject.append(l[l.index('WARNING:'):])
                injected_until = END_TRACE
                continue
            if injected_until:
                if injected_until in l:
                    injected_until = None
                if 'Call Trace:' in l:
                    continue
        m = EXPECT_BEGIN.search(l)
        if m:
            allowed, in_report = set(m.group(1).split()), False
            continue
        if EXPECT_END in l:
            allowed, in_report = None, False
            continue
        if allowed is not None:
            w = WARN_AT.search(l)
            if w and w.group(1) in allowed:
                expected += 1
                in_report = True
                continue
            if in_report and END_TRACE in l:
                in_report = False
                continue
            if in_report and 'Call Trace:' in l:
                continue
        if splat.search(l):
            hits.append(l)
    for h in hits[:20]:
        s.add('splat', 'FAIL', h.strip())
    if len(hits) > 20:
        s.add('splat', 'FAIL', f'... and {len(hits) - 20} more')
    if not hits:
        note = f' ({expected} WARNINGs provoked and expected by tests)' if expected else ''
        s.add('no BUG/WARNING/Oops/lockdep/KASAN in kernel log' + note, 'PASS')
    return s


def listed_suite(title, reports, none):
    """Reports outside our code (KCSAN races in files we do not own, base
    kernel WARNINGs on an injected allocation failure): listed, each with
    its count, not counted as failures."""
    s = Suite(title + ' (listed, not counted)')
    for r in sorted(set(reports)):
        s.add(r, 'INFO', f'{reports.count(r)} report(s)')
    if not reports:
        s.add(none, 'INFO')
    return s


EXPECT = ('kunit', 'selftests', 'clients', 'fuzz')


def judge(lines, src, expect=EXPECT, ours=None, inject=False):
    """Every suite of one console: KUnit (the KTAP before the job began),
    the selftests, the clients, the fuzz runs (those of them expect names),
    the guest's checks and the console scan; with ours (see console_suite),
    the KCSAN races outside our files; with inject, the base kernel's
    warnings on the allocation failures injected."""
    job = next((i for i, l in enumerate(lines) if l.startswith('HMM-JOB-BEGIN')),
               len(lines))
    suites = []
    if 'kunit' in expect:
        with tempfile.TemporaryDirectory() as tmp:
            suites += kunit_suites(lines[:job], src, tmp)
    if 'selftests' in expect:
        suites += selftest_suites(lines[job:])
    if 'clients' in expect:
        suites.append(clients_suite(lines[job:]))
    if 'fuzz' in expect:
        suites += fuzz_suites(lines[job:])
    races = []
    injected = [] if inject else None
    suites += [guest_suite(lines),
               console_suite(lines, ours=ours, races=races, inject=injected)]
    if ours is not None:
        suites.append(listed_suite('kcsan: data races outside our files', races,
                                   'no KCSAN report outside our files'))
    if inject:
        suites.append(listed_suite('fault injection: base kernel warnings', injected,
                                   'no base kernel warning'))
    return suites


def tally(suites, expected):
    """The table (lines) and the counts (passed, failed, skipped); a skip
    counts as such only when the case is on the expected list."""
    out = []
    passed = failed = skipped = 0
    for s in suites:
        width = max(len(c[0]) for c in s.cases)
        out += ['', s.name, f'  {"case":{width}}  result', f'  {"-" * width}  ------']
        for case, status, note in s.cases:
            if status == 'PASS':
                passed += 1
                shown = 'pass' + (f'  ({note})' if note else '')
            elif status == 'SKIP' and case in expected:
                skipped += 1
                shown = 'skip (expected: ' + expected[case] + ')'
            elif status == 'SKIP':
                failed += 1
                shown = 'FAIL (unexpected skip' + (': ' + note if note else '') + ')'
            elif status == 'INFO':
                shown = 'listed, not counted' + (': ' + note if note else '')
            else:
                failed += 1
                shown = ('FAIL' if status != 'ERROR' else 'ERROR') + (' ' + note if note else '')
            out.append(f'  {case:{width}}  {shown}')
    return out, passed, failed, skipped


def load_ours(path):
    """The function names of our files, one per line (scripts/fuzz.sh)."""
    return {symbol(l.strip()) for l in read_console(path) if l.strip()}


def fuzz_total(logs):
    """`make fuzz`'s last word over its consoles: every run's figures, their
    total and one line; 1 when a run failed or did not finish."""
    runs = [r for log in logs for r in fuzz_runs(read_console(log))]
    table, tot = fuzz_figures(runs)
    print('\n'.join(table))
    bad = [r for r in runs if r['rc'] != 0 or r['result'] != 'passed']
    print(f"\nfuzz: {len(runs) - len(bad)} runs passed, {len(bad)} failed, "
          f"{tot['ops']:,} operations, {tot['pages']:,} pages checked")
    return 1 if bad or not runs else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('log', nargs='+')
    ap.add_argument('--src', help='kernel tree with tools/testing/kunit')
    ap.add_argument('--expected-skips', default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), 'expected-skips'))
    ap.add_argument('--expect', default=','.join(EXPECT),
                    help='results the console must have: kunit,selftests,clients,fuzz')
    ap.add_argument('--ours', help='file of the function names defined in our files: '
                    'a KCSAN race elsewhere is listed, not counted')
    ap.add_argument('--inject', action='store_true',
                    help='allocations failed on purpose: warn_alloc() reports are no splat, '
                    'the WARNINGs of INJECT_BASE_WARNINGS are listed, not counted')
    ap.add_argument('--fuzz-total', action='store_true',
                    help='the figures and one verdict line over several fuzz consoles')
    a = ap.parse_args()

    if a.fuzz_total:
        return fuzz_total(a.log)
    if len(a.log) != 1 or not a.src:
        ap.error('one LOG and --src, or --fuzz-total LOG...')
    lines = read_console(a.log[0])
    expect = [e for e in a.expect.split(',') if e]
    ours = load_ours(a.ours) if a.ours else None
    table, passed, failed, skipped = tally(judge(lines, a.src, expect, ours, a.inject),
                                           load_expected_skips(a.expected_skips))
    print('\n'.join(table))
    runs = fuzz_runs(lines)
    if runs:
        print('\n'.join(fuzz_figures(runs)[0]))
    print(f'\nconsole log: {a.log[0]}')
    print(f'{passed} passed, {failed} failed' + (f', {skipped} skipped' if skipped else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
