# A SIGKILL campaign against `ward run` with an external actuator log (the project's copy of
# the reproducer, reading with a token and counting holders Ward believes wrongly).
# usage: python3 bench/campaign/campaign.py ROUNDS SEED   (bench/crash_campaign.sh)
import os, sys, time, json, random, signal, socket, threading, subprocess, urllib.request, collections, re
ROOT=os.environ.get('CAMP_ROOT',__import__('tempfile').mkdtemp()); W=os.environ.get('WARD','target/release/ward'); PORT=18091; API='http://127.0.0.1:7075'
NODES={'web1':'127.0.0.21','web2':'127.0.0.22','web3':'127.0.0.23'}; SVCS=['s1','s2','s3','s4']
ROUNDS=int(sys.argv[1]); SEED=int(sys.argv[2]); rng=random.Random(SEED)
DATA=f'{ROOT}/data'
# self-contained setup: fresh ROOT with scripts, token and inventory
HERE=os.path.dirname(os.path.abspath(__file__))
import shutil; shutil.rmtree(ROOT, ignore_errors=True); os.makedirs(ROOT)
for f in ('hook.sh','verify.sh'): shutil.copy(f'{HERE}/{f}', ROOT)
open(f'{ROOT}/token','w').write(os.urandom(32).hex()+'\n'); os.chmod(f'{ROOT}/token', 0o600)
open(f'{ROOT}/inv.toml','w').write(subprocess.run(['python3', f'{HERE}/gen_inv.py', ROOT, str(PORT)], capture_output=True, text=True, check=True).stdout)
def log(*a): print(f'[{time.strftime("%H:%M:%S")}]', *a, flush=True)
# ---- backends: one listening socket per node, answered by a thread; "killing" closes it (connection refused)
class Backend:
    def __init__(self, addr): self.addr=addr; self.sock=None; self.up=False
    def start(self):
        s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((self.addr, PORT)); s.listen(128)
        self.sock=s; self.up=True; threading.Thread(target=self.serve, args=(s,), daemon=True).start()
    def serve(self, s):
        while True:
            try: c,_=s.accept()
            except OSError: return
            threading.Thread(target=self.answer, args=(c,), daemon=True).start()
    def answer(self, c):
        try:
            c.settimeout(2); c.recv(4096)
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok')
        except Exception: pass
        finally: c.close()
    def stop(self):
        self.up=False
        try: self.sock.close()
        except Exception: pass
backends={n:Backend(a) for n,a in NODES.items()}
for b in backends.values(): b.start()
# ---- ward process
ward=None; ward_log=open(f'{ROOT}/ward.log','ab')
def start_ward():
    global ward
    ward=subprocess.Popen([W,'run','--inventory',f'{ROOT}/inv.toml','--data-dir',DATA,'--token-file',f'{ROOT}/token','--listen','127.0.0.1:7075','--grace-seconds','5'],
                          stdout=ward_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    t0=time.time()
    while time.time()-t0<30:
        if ward.poll() is not None: return ('exited', ward.returncode, time.time()-t0)
        try:
            urllib.request.urlopen(API+'/v1/status', timeout=1).read(); return ('ready', None, time.time()-t0)
        except Exception: time.sleep(0.05)
    return ('timeout', None, time.time()-t0)
def get(path, timeout=5):
    # Journal, timeline and why need a token (the read scope).
    token=open(f'{ROOT}/token').read().strip()
    request=urllib.request.Request(API+path, headers={'Authorization': f'Bearer {token}'})
    return json.loads(urllib.request.urlopen(request, timeout=timeout).read())
def vip_file(s):
    try: return open(f'{ROOT}/vip/{s}').read()
    except FileNotFoundError: return None
def journal():
    out=get('/v1/journal?from=0&limit=10000', 30)
    while len(out) and len(out)%10000==0:
        more=get(f'/v1/journal?since={out[-1]["seq"]}&limit=10000', 30)
        if not more: break
        out+=more
    return out
os.makedirs(f'{ROOT}/vip', exist_ok=True); os.makedirs(f'{ROOT}/target', exist_ok=True)
for s in SVCS: open(f'{ROOT}/vip/{s}','w').write('web1')
st=start_ward(); log('first start', st)
if st[0]!='ready': sys.exit(1)
time.sleep(2)
stats=collections.Counter(); ready_times=[]; restart_fail=[]; kills=[]
for r in range(ROUNDS):
    # churn: revive down backends sometimes; take down a backend holding a VIP (keep >=1 up)
    down=[n for n,b in backends.items() if not b.up]
    for n in down:
        if rng.random()<0.6: backends[n].start(); stats['revive']+=1
    holders=set(filter(None,(vip_file(s) for s in SVCS)))
    ups=[n for n,b in backends.items() if b.up]
    cand=[n for n in ups if n in holders] or ups
    if len(ups)>1 and rng.random()<0.8:
        victim=rng.choice(cand); backends[victim].stop(); stats['backend_kill']+=1
    if rng.random()<0.5: open(f'{ROOT}/lose-orphans','w').close()
    elif os.path.exists(f'{ROOT}/lose-orphans'): os.remove(f'{ROOT}/lose-orphans')
    time.sleep(rng.uniform(0.3, 3.0))
    inflight_hooks=len([l for l in open(f'{ROOT}/actuator.log')] ) if os.path.exists(f'{ROOT}/actuator.log') else 0
    os.kill(ward.pid, signal.SIGKILL); ward.wait(); kills.append(time.time())
    time.sleep(rng.choice([0, 0, 0.1, 0.5, 1.5]))
    st=start_ward(); ready_times.append(round(st[2],3))
    if st[0]!='ready':
        restart_fail.append((r, st)); log('restart failed', r, st)
        tail=open(f'{ROOT}/ward.log','rb').read()[-2000:].decode('utf-8','replace'); log(tail)
        st=start_ward(); log('retry', st)
        if st[0]!='ready': break
    if r%10==0: log('round', r, dict(stats))
# settle: all backends up, wait for quiet
if os.path.exists(f'{ROOT}/lose-orphans'): os.remove(f'{ROOT}/lose-orphans')
for n,b in backends.items():
    if not b.up: b.start()
t0=time.time(); settled=False
while time.time()-t0<120:
    try:
        stt=get('/v1/status'); svcs=get('/v1/services')
        j=journal(); jobs=set(); fin=collections.Counter()
        for x in j:
            if x['type'] in ('job_queued','job_intent','job_step_done','job_finished'): jobs.add(x['job'])
            if x['type']=='job_finished': fin[x['job']]+=1
        unfinished=[k for k in jobs if k not in fin]
        ok = stt['jobs_in_flight']==0 and not unfinished and all(len(s['holders'])==1 and vip_file(s['name'])==s['holders'][0] for s in svcs)
        if ok: settled=True; break
    except Exception as e: pass
    time.sleep(1)
settle_s=time.time()-t0
j=journal(); svcs=get('/v1/services'); stt=get('/v1/status')
ward.send_signal(signal.SIGTERM); ward.wait(30)
json.dump(j, open(f'{ROOT}/journal.json','w'))
# ---- analysis
calls=[]
for l in open(f'{ROOT}/actuator.log'):
    f=dict(kv.split('=',1) for kv in l.split() if '=' in kv); calls.append(f)
starts=[c for c in calls if c['phase']=='start']; dones={(c['pid']) for c in calls if c['phase'] in('done','lost')}
intents={(x['job'],x['step'],x['fencing_token']) for x in j if x['type']=='job_intent'}
jobs=set(); fin=collections.Counter(); ends=collections.Counter()
for x in j:
    if x['type'] in ('job_queued','job_intent','job_step_done','job_finished'): jobs.add(x['job'])
    if x['type']=='decision' and x.get('job') is not None: jobs.add(x['job'])
    if x['type']=='job_finished': fin[x['job']]+=1; ends[x['end']]+=1
same_token=collections.Counter((c['job'],c['token']) for c in starts if c['step']=='apply')
dup_apply=[k for k,v in same_token.items() if v>1]
reapplied=collections.Counter(c['job'] for c in starts if c['step']=='apply')
no_intent=[c for c in starts if (int(c['job']),c['step'],int(c['token'])) not in intents]
# overlapping calls on the same service; stale tokens per service
by_svc=collections.defaultdict(list)
for c in calls: by_svc[c['service']].append(c)
overlap=0; stale=0
iv={}
for c in calls:
    k=c['pid']
    if c['phase']=='start': iv[k]=[float(c['t']),None,c]
    elif k in iv: iv[k][1]=float(c['t'])
for s in SVCS:
    xs=sorted([v for v in iv.values() if v[2]['service']==s], key=lambda v:v[0])
    maxtok=0
    for i,a in enumerate(xs):
        if int(a[2]['token'])<maxtok: stale+=1
        maxtok=max(maxtok,int(a[2]['token']))
        for b in xs[i+1:]:
            if b[0] < (a[1] or a[0]+1.0) and b[2]['job']!=a[2]['job']: overlap+=1
seqs=[x['seq'] for x in j]
res={'rounds':ROUNDS,'seed':SEED,'sigkills':len(kills),'stats':dict(stats),'restart_failures':restart_fail,
 'ready_s_p50':sorted(ready_times)[len(ready_times)//2],'ready_s_max':max(ready_times),
 'settled':settled,'settle_s':round(settle_s,1),'journal_records':len(j),'seq_gaps':sum(1 for a,b in zip(seqs,seqs[1:]) if b!=a+1),
 'started_records':sum(1 for x in j if x['type']=='started'),
 'jobs':len(jobs),'jobs_unfinished':sorted(k for k in jobs if k not in fin),'jobs_finished_more_than_once':[k for k,v in fin.items() if v>1],'job_ends':dict(ends),
 'hook_calls':len(starts),'hook_calls_by_step':dict(collections.Counter(c['step'] for c in starts)),'hook_calls_never_ended':len([c for c in starts if c['pid'] not in dones]),
 'hook_calls_lost_by_design':sum(1 for c in calls if c['phase']=='lost'),
 'apply_same_job_same_token_repeated':[(k,same_token[k]) for k in dup_apply],
 'jobs_applied_more_than_once(new token)':sum(1 for v in reapplied.values() if v>1),
 'hook_calls_without_journaled_intent':len(no_intent),
 'overlapping_calls_same_service_different_job':overlap,'calls_with_token_below_one_seen_for_service':stale,
 'final':{s['name']:(s['holders'], vip_file(s['name'])) for s in svcs},
 # Where Ward believes each VIP is, against where the actuator actually put it.
 'holders_believed_wrongly':sum(1 for s in svcs if s['holders']!=[vip_file(s['name'])]),'final_status':{k:stt[k] for k in ('nodes_up','nodes_down','jobs_in_flight','open_alerts','pending_approvals')}}
print(json.dumps(res, indent=1))
json.dump(res, open(f'{ROOT}/result-{SEED}.json','w'), indent=1)
