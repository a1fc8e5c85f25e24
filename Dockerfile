# The image the Kubernetes Job's pods run (`inferload k8s ... --image IMAGE`), and a way to run
# inferload anywhere:  docker build -t inferload .   docker run --rm inferload run smoke
#
# Two stages: the first installs every dependency and compiles TypeScript to dist/; the second
# holds only what the package ships (package.json "files": bin, dist, scenarios, schema) and its
# production dependencies. Node 22 (Node 20, the floor of package.json "engines", is past its end
# of life). Pin the base by digest (node:22-slim@sha256:...) for builds that must not move.

FROM node:22-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own `prepare` (tsc) needs the sources, copied next; no
# dependency has an install script
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM node:22-slim
WORKDIR /opt/inferload
COPY package.json package-lock.json ./
# production dependencies only; --ignore-scripts again, since `prepare` would call tsc, a dev dependency
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY scenarios ./scenarios
COPY schema ./schema
# `inferload` on the PATH is the package's bin (what npm install -g would link); /work is where
# runs write by default (reports/runs/...), owned by the user that runs them
RUN ln -s /opt/inferload/bin/inferload.js /usr/local/bin/inferload \
    && chmod 755 /opt/inferload/bin/inferload.js \
    && mkdir -p /work && chown 1000:1000 /work
# the image's `node` user, by number: a pod with runAsNonRoot can only check a numeric user
USER 1000:1000
WORKDIR /work
ENTRYPOINT ["inferload"]
CMD ["--help"]
