/**
 * A small workflow: make data, train two models side by side inside a nested workflow, pick the
 * better one, report. Each step is a container of the locally built Node image (see README).
 */
import { parallel, step, workflow } from 'scanflow';

const node = 'scanflow/node:20';

/**
 * A step that runs a short Node script. `O` is the folder its outputs go to (one subfolder per
 * output) and `I` the folder it reads inputs from: SCANFLOW_OUTPUTS and SCANFLOW_INPUTS, which both
 * executors set (in a container they are /scanflow/outputs and /scanflow/inputs).
 */
const script = (source: string): string[] => [
  'node',
  '-e',
  'const O=process.env.SCANFLOW_OUTPUTS,I=process.env.SCANFLOW_INPUTS;' + source,
  // Parameters follow as `--name=value` arguments; `--` keeps node from reading them as its own.
  '--'
];

export default workflow(
  'hello',
  [
    step('make-data', {
      image: node,
      command: script(
        "const fs=require('fs');fs.mkdirSync(O+'/data',{recursive:true});" +
          'const xs=Array.from({length:100},(_, i)=>i/10);' +
          "fs.writeFileSync(O+'/data/points.json',JSON.stringify(xs.map(x=>[x,2*x+1])));" +
          "console.log('wrote',xs.length,'points')"
      ),
      outputs: ['data']
    }),
    workflow('train', [
      parallel('models', [
        step('linear', {
          image: node,
          command: script(
            "const fs=require('fs');const p=JSON.parse(fs.readFileSync(I+'/data/points.json'));" +
              'const n=p.length,sx=p.reduce((s,q)=>s+q[0],0),sy=p.reduce((s,q)=>s+q[1],0);' +
              'const sxx=p.reduce((s,q)=>s+q[0]*q[0],0),sxy=p.reduce((s,q)=>s+q[0]*q[1],0);' +
              'const a=(n*sxy-sx*sy)/(n*sxx-sx*sx),b=(sy-a*sx)/n;' +
              "fs.mkdirSync(O+'/linear',{recursive:true});" +
              "fs.writeFileSync(O+'/linear/model.json',JSON.stringify({a,b,mse:0}));console.log('a',a,'b',b)"
          ),
          inputs: ['data'],
          outputs: ['linear'],
          resources: { cpus: 0.5, memory: '256m' }
        }),
        step('mean', {
          image: node,
          command: script(
            "const fs=require('fs');const p=JSON.parse(fs.readFileSync(I+'/data/points.json'));" +
              'const m=p.reduce((s,q)=>s+q[1],0)/p.length;const mse=p.reduce((s,q)=>s+(q[1]-m)**2,0)/p.length;' +
              "fs.mkdirSync(O+'/mean',{recursive:true});" +
              "fs.writeFileSync(O+'/mean/model.json',JSON.stringify({m,mse}));console.log('mse',mse)"
          ),
          inputs: ['data'],
          outputs: ['mean'],
          resources: { cpus: 0.5, memory: '256m' }
        })
      ]),
      step('pick', {
        image: node,
        command: script(
          "const fs=require('fs');const r=n=>JSON.parse(fs.readFileSync(I+'/'+n+'/model.json'));" +
            "const best=['linear','mean'].sort((x,y)=>r(x).mse-r(y).mse)[0];" +
            "fs.mkdirSync(O+'/best',{recursive:true});fs.writeFileSync(O+'/best/name.txt',best);" +
            "console.log('best model:',best);" +
            // The best error goes to the step's own run in the tracker, through MLflow's REST API
            // (what any MLflow client sends); the run starts a tracker unless --no-tracker.
            'const u=process.env.MLFLOW_TRACKING_URI,id=process.env.MLFLOW_RUN_ID;' +
            "if(u&&id)fetch(u+'/api/2.0/mlflow/runs/log-metric',{method:'POST'," +
            "headers:{'content-type':'application/json'," +
            "authorization:'Bearer '+process.env.MLFLOW_TRACKING_TOKEN},body:JSON.stringify({run_id:id," +
            "key:'best_mse',value:r(best).mse,timestamp:Date.now(),step:0})})" +
            ".then(res=>{if(!res.ok)console.error('tracker said',res.status)}," +
            "e=>console.error('no tracker:',e.message))"
        ),
        inputs: ['linear', 'mean'],
        outputs: ['best'],
        retries: 1
      })
    ]),
    step('report', {
      image: node,
      command: script(
        "const best=require('fs').readFileSync(I+'/best/name.txt','utf8');" +
          "console.log('best model for the',process.env.SCANFLOW_PARAM_AUDIENCE,'is',best,process.argv.slice(1))"
      ),
      inputs: ['best'],
      parameters: { audience: 'team' },
      timeout: 60
    })
  ],
  {
    description: 'Hello, Scanflow: a nested workflow with a parallel group.',
    tracker: { scope: 'workflow' }
  }
);
