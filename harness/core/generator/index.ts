// Seeded, composable op generators after Jepsen's (see types.ts for the model).

export * from './types.js';
export { Random } from './random.js';
export { empty, toGen, once, sequence, fromFn, repeat, map, filter, onUpdate, fillIn } from './basic.js';
export { limit, cycle, any, mix, synchronize, phases, untilOk, ownRandom } from './control.js';
export { stagger, delay, timeLimit, sleep } from './timing.js';
export { onThreads, clients, nemesis, clientsAndNemesis, eachThread, eachProcess } from './routing.js';
export { startStopCycle, staggeredStartStop, type StartStopOptions } from './nemesis-schedule.js';
export { Scheduler, type Poll, type SchedulerOptions } from './scheduler.js';
export { simulate, type Simulation, type SimulationOptions, type SimulatedResponse, type Responder } from './simulate.js';
