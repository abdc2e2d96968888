// The types of the uPlot ES module the server serves at /dashboard/vendor/uPlot.esm.js (from the
// installed `uplot` package): lets `import uPlot from './vendor/uPlot.esm.js'` type-check.
import uPlot from 'uplot';
export default uPlot;
