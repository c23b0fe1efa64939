#!/usr/bin/env python3
"""Tests of vm/verdict.py and bench/report.py over recorded consoles.

  vm/tests/verdict_test.py --src TREE     (make verdict-test; make test)

TREE is a kernel tree with tools/testing/kunit/kunit.py (the base tree).
The consoles in vm/tests/consoles/ are real ones, trimmed, some with a
failure edited in; each test names what it pins. No guest is booted.
"""
import argparse
import contextlib
import glob
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, 'vm'))
sys.path.insert(0, os.path.join(TOP, 'bench'))
import verdict  # noqa: E402
import report  # noqa: E402

SRC = None  # set from --src


def console(name):
    return verdict.read_console(os.path.join(HERE, 'consoles', name))


def text(path):
    with open(os.path.join(TOP, path), errors='replace') as f:
        return f.read()


# The consoles recorded before make test ran the fuzzer have no fuzz runs.
OLD = ('kunit', 'selftests', 'clients')


def judge(name, expected=None, expect=OLD, ours=None):
    """(results {case: (status, note)} of every suite, tally) for one console"""
    suites = verdict.judge(console(name), SRC, expect, ours)
    results = {}
    for s in suites:
        for case, status, note in s.cases:
            results.setdefault(case, (status, note))
    return suites, results, verdict.tally(suites, expected or {})


def failures(suites):
    return [(s.name, c, n) for s in suites for c, st, n in s.cases if st not in ('PASS', 'SKIP')]


class Verdict(unittest.TestCase):
    def test_all_pass(self):
        suites, results, (_, passed, failed, skipped) = judge('pass.log')
        self.assertEqual(failures(suites), [])
        # 62 KUnit cases, 8 selftests, 20 clients, 3 guest checks + the job,
        # the console
        self.assertEqual((passed, failed, skipped), (95, 0, 0))
        self.assertEqual([s.name for s in suites][:5],
                         ['kunit: mmu_interval_notifier', 'kunit: mmu_notifier',
                          'kunit: mmu_interval_notifier_stress', 'kunit: dev_pagemap',
                          'kunit: hmm_range_fault'])
        self.assertIn('rw.write_anon', results)
        self.assertIn('coherent_devices', results)

    def assert_main(self, name, rc, last, *args):
        """verdict.py run on the console: its exit status and last line"""
        if not any(a.startswith('--expect=') for a in args):
            args += ('--expect=' + ','.join(OLD),)
        p = subprocess.run([sys.executable, os.path.join(TOP, 'vm/verdict.py'), '--src', SRC,
                            os.path.join(HERE, 'consoles', name), *args],
                           capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stdout.splitlines()[-1]), (rc, last), p.stdout)

    def test_main_prints_the_counts_and_exits_0(self):
        self.assert_main('pass.log', 0, '95 passed, 0 failed')

    def test_failed_kunit_case(self):
        suites, results, (_, passed, failed, _) = judge('kunit-fail.log')
        self.assertEqual(failures(suites), [('kunit: mmu_interval_notifier',
                                             'mnt_blockable_refusal', '')])
        self.assertEqual((passed, failed), (94, 1))
        self.assert_main('kunit-fail.log', 1, '94 passed, 1 failed')

    def test_failed_selftest(self):
        suites, _, (_, passed, failed, _) = judge('selftest-fail.log')
        self.assertEqual(failures(suites), [('hmm-tests: rw', 'rw.write_anon', '')])
        self.assertEqual((passed, failed), (94, 1))

    def test_unexpected_skip_fails(self):
        suites, results, (table, passed, failed, skipped) = judge('skip.log')
        case = 'devmem.coherent.migrate_unpopulated'
        self.assertEqual(results[case][0], 'SKIP')
        self.assertEqual((passed, failed, skipped), (94, 1, 0))
        self.assertTrue(any(case in l and 'FAIL (unexpected skip: no device-coherent memory' in l
                            for l in table), table)

    def test_expected_skip_passes(self):
        with tempfile.NamedTemporaryFile('w', suffix='.skips') as f:
            f.write('# reason after the name\n'
                    'devmem.coherent.migrate_unpopulated  # no reserved memory here\n')
            f.flush()
            expected = verdict.load_expected_skips(f.name)
            _, _, (table, passed, failed, skipped) = judge('skip.log', expected)
            self.assert_main('skip.log', 0, '94 passed, 0 failed, 1 skipped',
                             '--expected-skips', f.name)
        self.assertEqual((passed, failed, skipped), (94, 0, 1))
        self.assertIn('skip (expected: no reserved memory here)', '\n'.join(table))

    def test_splat_in_the_middle_of_a_selftest(self):
        # every case passes, but a WARNING came with no bracket around it
        suites, _, (_, _, failed, _) = judge('splat-in-selftest.log')
        bad = failures(suites)
        self.assertTrue(bad)
        self.assertTrue(all(s == 'console' and c == 'splat' for s, c, _ in bad), bad)
        self.assertIn('WARNING: CPU: 0 PID: 58 at mm/mmu_notifier.c:168 mn_report_refusal',
                      bad[0][2])
        self.assertEqual(failed, len(bad))

    def test_guest_killed_by_the_watchdog(self):
        # a real console: an oops in a KUnit stress test, then the guest hung
        suites, results, (_, passed, _, _) = judge('watchdog.log')
        self.assertEqual(results['watchdog'][0], 'FAIL')
        self.assertIn('HMM-WATCHDOG guest killed after 1200s', results['watchdog'][1])
        self.assertEqual(results['job completed'][0], 'FAIL')
        self.assertEqual(results['(no result line)'][0], 'ERROR')
        self.assertEqual(results['(run)'], ('FAIL', 'no selftest output: guest crashed or hung'))
        splats = [n for s, c, n in failures(suites) if c == 'splat']
        self.assertIn('general protection fault', splats[0])
        self.assertEqual(passed, 0)

    def test_truncated_console(self):
        # QEMU died in the middle of the selftests: no clean copy, no end
        suites, results, (_, passed, failed, _) = judge('truncated.log')
        self.assertEqual(results['(run)'][0], 'FAIL')
        self.assertEqual(results['job completed'],
                         ('FAIL', 'the guest never reached the end of its job'))
        self.assertEqual(results['(run)'][0], 'FAIL')
        self.assertEqual(failed, 3)             # selftests, clients, the job
        self.assertEqual(passed, 62 + 2 + 1)    # KUnit, the two checks, the console

    def test_selftests_plan_not_met(self):
        lines = console('pass.log')
        end = lines.index('HMM-SELFTESTS-END')
        del lines[end - 5:end - 2]              # the last case's lines of the copy
        bad = [(c, n) for s in verdict.selftest_suites(lines) for c, st, n in s.cases
               if st == 'FAIL']
        self.assertEqual(bad, [('(run)', 'planned 8 cases, saw 7')])

    def test_clients_pass_with_time_and_data(self):
        suites, results, _ = judge('pass.log')
        clients = next(s for s in suites if s.name == 'clients')
        self.assertEqual(len(clients.cases), 20)
        self.assertEqual(results['devdax_1g_pud'], ('PASS', '34.7 s, 3073.2 MiB verified'))

    def test_failed_clients(self):
        # a real run with the DAX PTE fix of hmm_decode_pte() reverted: the
        # fsdax mirrors fail, and what builds on them
        suites, results, (_, passed, failed, _) = judge('clients-fail.log')
        bad = [c for s, c, n in failures(suites)]
        self.assertEqual(bad, ['fsdax_mem_hmm', 'fsdax_mem_dio', 'fsdax_mem_remount',
                               'fsdax_dev_hmm', 'fsdax_dev_dio', 'fsdax_dev_remount',
                               'pmem_back_to_start'])
        self.assertEqual((passed, failed), (95 - 7, 7))
        self.assert_main('clients-fail.log', 1, '88 passed, 7 failed')

    def test_clients_missing_or_cut_short(self):
        lines = console('pass.log')
        begin = lines.index('HMM-CLIENTS-BEGIN 20')
        end = lines.index('HMM-CLIENTS-END')

        def run_failures(lines):
            return [n for c, st, n in verdict.clients_suite(lines).cases
                    if st == 'FAIL']
        self.assertEqual(run_failures(lines), [])
        self.assertEqual(run_failures(lines[:begin] + lines[end + 1:]),
                         ['no clients output: the suite did not run or did not finish'])
        self.assertEqual(run_failures(lines[:end]),
                         ['the copy of the results is cut short'])
        self.assertEqual(run_failures(lines[:end - 1] + lines[end:]),
                         ['planned 20 cases, saw 19'])

    def test_no_ktap_is_a_failure(self):
        lines = [l for l in console('pass.log') if 'KTAP' not in l]
        with tempfile.TemporaryDirectory() as tmp:
            suites = verdict.kunit_suites(lines[:lines.index('HMM-JOB-BEGIN test')], SRC, tmp)
        self.assertEqual([(s.name, s.cases) for s in suites],
                         [('kunit', [('(run)', 'FAIL', 'no KTAP output: the suites did not run')])])

    def test_expected_warning_from_a_named_function_passes(self):
        _, results, _ = judge('pass.log')
        self.assertEqual(results['no BUG/WARNING/Oops/lockdep/KASAN in kernel log '
                                 '(1 WARNINGs provoked and expected by tests)'][0], 'PASS')

    def test_warning_from_another_function_in_the_bracket_fails(self):
        # real: the bracket names mn_itree_invalidate and mn_classic_start;
        # the first WARNING is from mn_itree_invalidate, the second from
        # mn_itree_close (the double close the bracket must not hide)
        suites, _, _ = judge('warn-other-function.log')
        splats = [n for s, c, n in failures(suites)]
        self.assertTrue(splats)
        self.assertIn('mn_itree_close+0x20/0xd3', splats[0])
        self.assertFalse(any('mn_itree_invalidate+' in n for n in splats), splats)

    def test_bug_inside_the_bracket_fails(self):
        suites, _, (_, _, failed, _) = judge('bug-in-bracket.log')
        self.assertEqual(failures(suites), [
            ('console', 'splat', '[    3.486101] BUG: sleeping function called from invalid '
             'context at mm/mmu_notifier.c:270')])
        self.assertEqual(failed, 1)

    def test_failed_check_and_job_status(self):
        suites, results, _ = judge('guest-fail.log')
        self.assertEqual(results['unload_test_hmm'][0], 'FAIL')
        self.assertEqual(results['job completed'], ('FAIL', 'job test exited with rc=1'))
        self.assertEqual(len(failures(suites)), 2)


class Sanitizers(unittest.TestCase):
    """make test with the sanitizers and the short fuzz (consoles edited
    from a real one: kmemleak cleared at the start, checked after the
    selftests and after each of the two fuzz runs)"""

    assert_main = Verdict.assert_main

    def test_all_pass(self):
        suites, results, (_, passed, failed, skipped) = judge('fuzz-pass.log', expect=verdict.EXPECT)
        self.assertEqual(failures(suites), [])
        # 95 as pass.log, the kmemleak check, 2 runs and their 5 checks each
        self.assertEqual((passed, failed, skipped), (95 + 1 + 2 + 10, 0, 0))
        self.assertEqual(results['fuzz_random (seed 498215170)'], ('PASS', ''))
        self.assertEqual(results['fuzz_fixed_kmemleak'], ('PASS', ''))
        self.assert_main('fuzz-pass.log', 0, '108 passed, 0 failed',
                         '--expect=kunit,selftests,clients,fuzz')

    def test_make_test_needs_its_fuzz_runs(self):
        # the default --expect is make test's: a console without fuzz fails
        self.assert_main('pass.log', 1, '95 passed, 1 failed',
                         '--expect=kunit,selftests,clients,fuzz')
        _, results, _ = judge('pass.log', expect=verdict.EXPECT)
        self.assertEqual(results['(run)'], ('FAIL', 'no fuzz run: guest crashed or hung'))

    def assert_splat(self, name, text):
        suites, _, (_, _, failed, _) = judge(name, expect=verdict.EXPECT)
        bad = failures(suites)
        self.assertTrue(bad)
        self.assertTrue(all(s == 'console' and c == 'splat' for s, c, _ in bad), bad)
        self.assertIn(text, bad[0][2])
        self.assertEqual(failed, len(bad))

    def test_kasan_report_fails(self):
        self.assert_splat('kasan.log', 'BUG: KASAN: use-after-free in dmirror_do_read')

    def test_hung_task_fails(self):
        self.assert_splat('hung-task.log', 'INFO: task hmm-fuzz:233 blocked for more than 61 seconds')

    def test_soft_lockup_fails(self):
        self.assert_splat('soft-lockup.log', 'watchdog: BUG: soft lockup - CPU#1 stuck for 26s!')

    def test_boot_messages_of_the_sanitizers_are_no_splat(self):
        pattern = verdict.splat_pattern(verdict.machine())
        for l in ('[    0.000000] kasan: KernelAddressSanitizer initialized',
                  '[   12.860407] kmemleak: Kernel memory leak detector initialized '
                  '(mem pool available: 14834)',
                  '[   12.911000] kmemleak: Automatic memory scanning thread ended',
                  '[  146.329460] kmemleak: 8 new suspected memory leaks '
                  '(see /sys/kernel/debug/kmemleak)',
                  '[    1.120000] FAULT_INJECTION: forcing a failure.',
                  '[    0.301000] kcsan: enabled early',
                  '[    1.000000] kcsan: strict mode configured'):
            self.assertIsNone(pattern.search(l), l)

    def test_leak_report_fails(self):
        suites, results, (_, passed, failed, _) = judge('kmemleak.log', expect=verdict.EXPECT)
        self.assertEqual(failures(suites), [('guest', 'fuzz_fixed_kmemleak', '')])
        self.assertEqual((passed, failed), (107, 1))

    def test_fuzz_failure_fails_with_its_first_line(self):
        suites, results, (_, passed, failed, _) = judge('fuzz-fail.log', expect=verdict.EXPECT)
        self.assertEqual(failures(suites), [(
            'fuzz', 'fuzz_random (seed 498215170)',
            'FAIL seed 498215170 pid 236 thread 2 after 1408 ops: device READ: region 7 '
            '(anon) page 3 at 0x7f31a2c03000: want version 0x5e2b9c0d77a4f121, first word 0')])
        self.assertEqual((passed, failed), (107, 1))

    def test_fuzz_run_cut_short(self):
        lines = console('fuzz-pass.log')
        lines = lines[:lines.index('hmm-fuzz: passed (seed 498215170)')]
        runs = verdict.fuzz_runs(lines)
        self.assertEqual([(r['name'], r['rc']) for r in runs],
                         [('fuzz_fixed', 0), ('fuzz_random', None)])
        cases = verdict.fuzz_suites(lines)[0].cases
        self.assertEqual(cases[1], ('fuzz_random (seed 498215170)', 'FAIL',
                                    'the run did not finish'))

    def test_fuzz_figures(self):
        runs = verdict.fuzz_runs(console('fuzz-pass.log'))
        table, tot = verdict.fuzz_figures(runs)
        self.assertEqual((tot['ops'], tot['pages'], tot['forks']),
                         (5023 + 5347, 15861 + 13818, 102))
        # errors by errno, summed over the operation classes and the runs
        self.assertEqual(tot['errors']['EBUSY'], 63 + 21 + 86 + 17)
        self.assertEqual(tot['errors']['ok'], (1446 + 788 + 467 + 237 + 201 + 11 + 100) +
                         (1525 + 802 + 510 + 214 + 246 + 9 + 118))
        self.assertIn('  total (2 runs)  10,370  29,679  102  65 s', '\n'.join(table))

    def test_fuzz_total_over_several_consoles(self):
        p = subprocess.run([sys.executable, os.path.join(TOP, 'vm/verdict.py'), '--fuzz-total',
                            os.path.join(HERE, 'consoles', 'fuzz-pass.log'),
                            os.path.join(HERE, 'consoles', 'fuzz-fail.log')],
                           capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stdout.splitlines()[-1]),
                         (1, 'fuzz: 3 runs passed, 1 failed, 19,103 operations, '
                             '54,660 pages checked'), p.stdout)

    def test_kcsan_race_in_our_files_fails_others_listed(self):
        ours = {'mmu_interval_read_begin', 'mn_itree_inv_start_range', 'dmirror_do_read'}
        suites, results, (table, passed, failed, _) = judge('kcsan.log', expect=verdict.EXPECT,
                                                            ours=ours)
        bad = failures(suites)
        self.assertEqual(len([b for b in bad if b[0] == 'console']), 1, bad)
        self.assertIn('mn_itree_inv_start_range / mmu_interval_read_begin  (in our files)',
                      bad[0][2])
        listed = [c for s in suites if s.name.startswith('kcsan') for c, st, n in s.cases]
        self.assertEqual(listed, ['BUG: KCSAN: data-race in folio_mapping / page_add_anon_rmap'])
        self.assertIn('listed, not counted: 2 report(s)', '\n'.join(table))
        self.assertEqual(failed, 1)
        # without --ours (make test's kernel has no KCSAN) every report is a splat
        suites, _, _ = judge('kcsan.log', expect=verdict.EXPECT)
        self.assertEqual(len(failures(suites)), 3)


class FaultInjection(unittest.TestCase):
    """make fuzz's failinject console (--inject): inject-excerpt.log is a real
    one, trimmed to an injected failure of memremap_pages(): warn_alloc()'s
    report of the vmemmap allocation, then x86's add_pages() WARNING"""

    def scan(self, lines, inject):
        listed = [] if inject else None
        s = verdict.console_suite(lines, inject=listed)
        return [n for c, st, n in s.cases if st == 'FAIL'], listed

    def test_injected_failure_reports_are_no_splat(self):
        hits, listed = self.scan(console('inject-excerpt.log'), True)
        self.assertEqual(hits, [])
        self.assertEqual(listed, ['WARNING: CPU: 1 PID: 146 at arch/x86/mm/init_64.c:978 '
                                  'add_pages+0x43/0x12c'])

    def test_without_inject_they_are(self):
        hits, _ = self.scan(console('inject-excerpt.log'), False)
        self.assertEqual(len(hits), 3, hits)
        self.assertIn('WARNING: CPU: 1 PID: 146 at arch/x86/mm/init_64.c:978', hits[1])

    def test_other_warnings_still_fail(self):
        lines = console('inject-excerpt.log') + [
            '[  157.000000] WARNING: CPU: 0 PID: 7 at mm/hmm.c:300 hmm_walk_ptes+0x1/0x2',
            '[  157.000001] Call Trace:']
        hits, _ = self.scan(lines, True)
        self.assertEqual(len(hits), 2, hits)
        self.assertIn('hmm_walk_ptes', hits[0])

    def test_a_call_trace_after_the_report_still_fails(self):
        # warn_alloc()'s report ends where show_mem() begins
        lines = console('inject-excerpt.log') + [
            '[  158.000000] irq 11: nobody cared (try booting with the "irqpoll" option)',
            '[  158.000001] Call Trace:']
        hits, _ = self.scan(lines, True)
        self.assertEqual(hits, ['[  158.000001] Call Trace:'])

    def test_main_takes_inject(self):
        # the excerpt has no job: that is its one failure, the splats are not
        p = subprocess.run([sys.executable, os.path.join(TOP, 'vm/verdict.py'), '--src', SRC,
                            '--expect=', '--inject',
                            os.path.join(HERE, 'consoles', 'inject-excerpt.log')],
                           capture_output=True, text=True)
        self.assertEqual(p.stdout.splitlines()[-1], '1 passed, 1 failed', p.stdout)
        self.assertIn('fault injection: base kernel warnings (listed, not counted)', p.stdout)


class Machine(unittest.TestCase):
    """vm/machine.sh as its readers see it"""

    def setUp(self):
        self.m = verdict.machine()

    def test_test_hmm_parameters_follow_from_the_reserved_range(self):
        base = int(self.m['MACHINE_SPM_ADDR'], 16)
        mib = int(self.m['MACHINE_SPM_MIB'])
        self.assertIn(f'memmap={mib}M${base:#x}', self.m['MACHINE_KERNEL_PARAMS'].split())
        spm = dict(p.split('=') for p in self.m['MACHINE_TEST_HMM'].split())
        addrs = [int(spm['spm_addr_dev0'], 16), int(spm['spm_addr_dev1'], 16)]
        # two 256 MiB chunks of test_hmm, inside the range
        self.assertEqual(addrs, [base, base + (256 << 20)])
        self.assertLessEqual(addrs[1] + (256 << 20), base + (mib << 20))

    def test_splat_list_reads_the_same_in_awk(self):
        pattern = verdict.splat_pattern(self.m)
        lines = console('pass.log') + console('watchdog.log') + console('bug-in-bracket.log')
        py = [l for l in lines if pattern.search(l)]
        awk = subprocess.run(['awk', '-v', 'splat=' + pattern.pattern, '$0 ~ splat'],
                             input='\n'.join(lines) + '\n', capture_output=True,
                             text=True, check=True).stdout.splitlines()
        self.assertTrue(py)
        self.assertEqual(py, awk)


class Report(unittest.TestCase):
    """bench/report.py's reading of `make bench` consoles (real ones, from
    one run: ours and base; then edited: a failure, an unfinished run)"""

    def parse(self, name, kernel='ours'):
        res = {}
        bad = report.problems(kernel, os.path.join(HERE, 'consoles', name), res)
        return res, bad

    def test_every_row_and_size_parsed(self):
        for name in ('bench-ours.log', 'bench-base.log'):
            res, bad = self.parse(name)
            self.assertEqual(bad, [])
            # the base kernel has no device THPs (HMM-BENCH-NA for rows 8)
            # and no two-pass notifiers (no row 10)
            self.assertEqual(sorted(res), sorted((k, z) for k, _, sizes in report.ROWS
                                                 for z in sizes
                                                 if name == 'bench-ours.log' or
                                                 not (k.startswith('thp2m') or k == 'flush')))
            # five repetitions per row, the warm-up left out; one for the
            # rows measured once
            self.assertTrue(all(len(v) == (1 if k in report.SINGLE else 5)
                                for (k, _), (_, v) in res.items()), name)

    def test_median_leaves_the_warm_up_out(self):
        res, _ = self.parse('bench-ours.log')
        line = next(l for l in console('bench-ours.log')
                    if l.startswith('HMM-BENCH snapshot 4194304 '))
        reps = sorted(float(v) for v in line.split()[5:])
        self.assertEqual(report.medians(res)[('snapshot', 4 << 20)], ('ns/page', reps[2], 5))

    def test_table(self):
        mo = report.medians(self.parse('bench-ours.log')[0])
        mb = report.medians(self.parse('bench-base.log', 'base')[0])
        rows = report.table({'wall': (mo, mb)}).splitlines()
        self.assertEqual(len(rows), 2 + sum(len(r[2]) for r in report.ROWS))
        row = next(r for r in rows if r.startswith('| 1. hmm_range_fault snapshot, 4 KiB pages '
                                                   '| 4 MiB |'))
        key = ('snapshot', 4 << 20)
        self.assertIn(f'| {mb[key][1] / mo[key][1]:.2f} |', row)

    def test_table_both_clocks(self):
        """one set of columns per clock, wall first; icount figures are
        instructions"""
        mo = report.medians(self.parse('bench-ours.log')[0])
        mb = report.medians(self.parse('bench-base.log', 'base')[0])
        rows = report.table({'icount': (mb, mo), 'wall': (mo, mb)}).splitlines()
        self.assertTrue(rows[0].startswith('| benchmark | size | wall: unit |'), rows[0])
        self.assertIn('| icount: unit |', rows[0])
        row = next(r for r in rows if r.startswith('| 1. hmm_range_fault snapshot, 4 KiB pages '
                                                   '| 4 MiB |'))
        cells = [c.strip() for c in row.split('|')[1:-1]]
        self.assertEqual((cells[2], cells[7]), ('ns/page', 'insn/page'))
        key = ('snapshot', 4 << 20)
        self.assertEqual((cells[5], cells[10]), (f'{mb[key][1] / mo[key][1]:.2f}',
                                                 f'{mo[key][1] / mb[key][1]:.3f}'))

    def test_compare_icount_runs(self):
        """--compare reports the largest relative difference of the icount
        medians and ignores the wall ones"""
        with tempfile.TemporaryDirectory() as d:
            runs = []
            for i, (snap, wall) in enumerate(((100.0, 5.0), (100.5, 9.0))):
                runs.append(os.path.join(d, f'{i}.json'))
                with open(runs[-1], 'w') as f:
                    json.dump({'icount': {'ours': {'snapshot/4194304': snap},
                                          'base': {'seq/0': 40.0}},
                               'wall': {'ours': {'snapshot/4194304': wall}}}, f)
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertAlmostEqual(report.compare(*runs), 0.5 / 100.5)

    def test_failed_benchmark(self):
        res, bad = self.parse('bench-fail.log')
        tag = 'ours (bench-fail.log): '
        self.assertEqual(bad, [
            tag + 'HMM-BENCH-NOTE snapshot_thp 67108864 only 24 of 32 pages PMD-mapped',
            tag + 'HMM-BENCH-FAIL migrate 1073741824 data changed on the round trip',
            tag + 'run_benchmarks'])
        self.assertNotIn(('migrate', 1 << 30), res)

    def test_failure_count_must_match(self):
        lines = [l.replace('failures=1', 'failures=2') for l in console('bench-fail.log')]
        self.assertIn('HMM-BENCH-DONE failures=2, but the console shows other '
                      'HMM-BENCH-FAIL lines', report.parse(lines, {}))

    def test_unfinished_run(self):
        _, bad = self.parse('bench-unfinished.log', 'base')
        tag = 'base (bench-unfinished.log): '
        self.assertEqual(bad, [tag + 'the benchmark program did not finish',
                               tag + 'watchdog HMM-WATCHDOG guest killed after 900s',
                               tag + 'job completed the guest never reached the end of its job'])


MARKER = re.compile(r'HMM-[A-Z]+(?:-[A-Z]+)*')


class Protocol(unittest.TestCase):
    """Every HMM-* marker written in the tree is documented in vm/README.md
    and read by the host."""

    READERS = ['vm/verdict.py', 'bench/report.py']

    def written(self):
        found = {}
        files = (glob.glob(os.path.join(TOP, 'vm/**/*'), recursive=True) +
                 glob.glob(os.path.join(TOP, 'bench/*')) +
                 glob.glob(os.path.join(TOP, 'linux/**/*.[ch]'), recursive=True))
        for f in files:
            rel = os.path.relpath(f, TOP)
            if (not os.path.isfile(f) or rel in self.READERS or rel.startswith('vm/tests/')
                    or rel.endswith(('.md', '.png'))):
                continue
            for l in text(f).splitlines():
                if re.search(r'\b(echo|printf|pr_\w+|printk)\b', l):
                    for m in MARKER.findall(l):
                        found.setdefault(m, rel)
        return found

    def test_writers_found(self):
        self.assertTrue({'HMM-JOB-BEGIN', 'HMM-CHECK', 'HMM-BENCH-DONE',
                         'HMM-EXPECT-WARN-BEGIN', 'HMM-WATCHDOG'} <= set(self.written()))

    def test_every_marker_is_documented(self):
        doc = text('vm/README.md')
        documented = set(re.findall(r'`(HMM-[A-Z-]+)', doc))
        self.assertEqual({m: f for m, f in self.written().items() if m not in documented}, {})

    def test_every_marker_is_read(self):
        code = ''.join(text(r) for r in self.READERS)
        self.assertEqual({m: f for m, f in self.written().items()
                          if not re.search(r"['\"]" + re.escape(m) + r"[ '\"]", code)}, {})


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--src', required=True, help='kernel tree with tools/testing/kunit')
    a, rest = ap.parse_known_args()
    SRC = a.src
    unittest.main(argv=[sys.argv[0]] + rest)
