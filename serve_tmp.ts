import { startFakeHub } from "/work/wt-hub/tests/net/fake_hub.ts";
import { beansHubRepos } from "/work/wt-hub/tests/net/beans_hub.ts";
const hub = startFakeHub(await beansHubRepos());
await Deno.writeTextFile("/tmp/kdm/endpoint", hub.base);
console.log(hub.base);
setInterval(
  () =>
    Deno.writeTextFileSync(
      "/tmp/kdm/count",
      String(hub.log.length) + "\n" + hub.log.map((l) => `${l.method} ${l.path}`).join("\n"),
    ),
  500,
);
