# Run from the repository root: python3 docs/benchmarks/covering-micro.py (writes /tmp/micro-*.db).
# Micro-benchmark: routing's candidate-agents read, old index vs covering index, each read
# starting with an empty page cache (a write from another connection between reads, as the
# server's writer does between its readers' reads). 1,000 agents in one queue, as the bench.
import sqlite3, time, random, os, sys, statistics
MIG = [open(f'crates/store/migrations/{f}').read() for f in sorted(os.listdir('crates/store/migrations'))]
Q = """SELECT a.id FROM agents a WHERE a.presence = 'available' AND a.connected = 1 AND a.has_offer = 0
 AND a.load < a.capacity AND EXISTS (SELECT 1 FROM queue_agents qa WHERE qa.queue_id = ?1 AND qa.agent_id = a.id)
 ORDER BY a.open_chats, a.free_since, a.id LIMIT ?2"""
def run(covering):
    path = f'/tmp/micro-{covering}.db'
    for s in ('', '-wal', '-shm'):
        try: os.remove(path + s)
        except FileNotFoundError: pass
    w = sqlite3.connect(path, isolation_level=None)
    w.execute('PRAGMA journal_mode=WAL')
    w.executescript(MIG[0]); w.executescript(MIG[1])
    if covering: w.executescript(MIG[3])
    cols = [r[1] for r in w.execute('PRAGMA table_info(agents)')]
    random.seed(1)
    w.execute('BEGIN')
    for i in range(1000):
        row = {c: None for c in cols}
        row.update(id=f'agent-{i:04d}', email=f'a{i}@x', version=1, state='x' * 600, presence='available',
                   connected=1, has_offer=0, load=(l := random.randint(0, 5)), capacity=5, open_chats=l,
                   free_since=random.randint(0, 10**6))
        for c in cols:
            if row[c] is None: row[c] = 0 if c not in ('name', 'password_hash', 'role') else 'x'
        w.execute(f"INSERT INTO agents ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", [row[c] for c in cols])
        w.execute("INSERT INTO queue_agents (queue_id, agent_id) VALUES ('q', ?)", (f'agent-{i:04d}',))
    w.execute('COMMIT')
    r = sqlite3.connect(path, isolation_level=None)
    plan = [x[3] for x in r.execute('EXPLAIN QUERY PLAN ' + Q, ('q', 8))]
    times = []
    for i in range(3000):
        w.execute("UPDATE agents SET free_since = free_since + 1 WHERE id = ?", (f'agent-{i % 1000:04d}',))
        t = time.perf_counter()
        rows = r.execute(Q, ('q', 8)).fetchall()
        times.append(time.perf_counter() - t)
        assert len(rows) == 8
    return plan[0], statistics.median(times) * 1e6
for _ in range(2):
    for cov in (False, True):
        plan, med = run(cov)
        print(f"{'covering' if cov else 'old     '} {plan:45s} median {med:.1f} µs")
