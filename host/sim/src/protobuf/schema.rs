//! Field tables for the Kubernetes messages the simulator decodes.
//!
//! Numbers come from k8s.io/api and k8s.io/apimachinery `generated.proto`;
//! JSON names and emptiness rules from the Go `json:` tags of the same types:
//! `Card::Omit` is `omitempty` on a value field, `Card::Opt` a pointer field
//! (written whenever the body carries it, even when zero), `Card::Req` a field
//! without `omitempty` (written even when absent, as its zero value). Fields
//! left out of a table are skipped and reported as not decoded.

/// A protobuf message: its Go type name (for diagnostics) and its fields.
#[derive(Debug)]
pub(super) struct Message {
    pub(super) name: &'static str,
    pub(super) fields: &'static [Field],
}

#[derive(Debug)]
pub(super) struct Field {
    pub(super) num: u32,
    pub(super) json: &'static str,
    pub(super) ty: Ty,
    pub(super) card: Card,
}

/// How a value is encoded on the wire and rendered in JSON.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ty {
    Str,
    /// `[]byte`: base64 in JSON.
    Bytes,
    Bool,
    I32,
    I64,
    /// `metav1.Time`: RFC 3339 string, zero is `null`.
    Time,
    /// `resource.Quantity`: its canonical string.
    Quantity,
    /// `intstr.IntOrString`: a number or a string.
    IntOrString,
    Msg(&'static Message),
    /// A Go struct embedded with `json:",inline"`.
    Inline(&'static Message),
    /// `map<string, V>`.
    Map(&'static Ty),
}

impl Ty {
    /// Kinds to which Go's `omitempty` applies (it never applies to structs).
    pub(super) fn is_scalar(self) -> bool {
        matches!(self, Ty::Str | Ty::Bytes | Ty::Bool | Ty::I32 | Ty::I64)
    }
}

/// When a field appears in the JSON; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Card {
    Omit,
    Opt,
    Req,
    /// Repeated with `omitempty`: absent when empty.
    Rep,
    /// Repeated without `omitempty`: `null` when empty.
    RepReq,
}

use Ty::{Bool, Bytes, I32, I64, IntOrString, Quantity, Str, Time};

const fn f(num: u32, json: &'static str, ty: Ty) -> Field {
    Field {
        num,
        json,
        ty,
        card: Card::Omit,
    }
}
const fn s(num: u32, json: &'static str) -> Field {
    f(num, json, Str)
}
const fn m(num: u32, json: &'static str, msg: &'static Message) -> Field {
    f(num, json, Ty::Msg(msg))
}
const fn inline(num: u32, msg: &'static Message) -> Field {
    f(num, "", Ty::Inline(msg))
}
const STR_MAP: Ty = Ty::Map(&Str);
const BYTES_MAP: Ty = Ty::Map(&Bytes);
const QUANTITY_MAP: Ty = Ty::Map(&Quantity);

impl Field {
    const fn with(self, card: Card) -> Field {
        Field { card, ..self }
    }
    const fn opt(self) -> Field {
        self.with(Card::Opt)
    }
    const fn req(self) -> Field {
        self.with(Card::Req)
    }
    const fn rep(self) -> Field {
        self.with(Card::Rep)
    }
    const fn rep_req(self) -> Field {
        self.with(Card::RepReq)
    }
}

macro_rules! messages {
    ($($id:ident $name:literal [$($field:expr),* $(,)?])*) => {
        $(pub(super) static $id: Message = Message { name: $name, fields: &[$($field),*] };)*
    };
}

// meta/v1.
messages! {
    OBJECT_META "ObjectMeta" [
        s(1, "name"), s(2, "generateName"), s(3, "namespace"), s(4, "selfLink"), s(5, "uid"),
        s(6, "resourceVersion"), f(7, "generation", I64), f(8, "creationTimestamp", Time),
        f(9, "deletionTimestamp", Time).opt(), f(10, "deletionGracePeriodSeconds", I64).opt(),
        f(11, "labels", STR_MAP), f(12, "annotations", STR_MAP),
        m(13, "ownerReferences", &OWNER_REFERENCE).rep(), s(14, "finalizers").rep(),
        // 17 managedFields is deliberately not decoded.
    ]
    OWNER_REFERENCE "OwnerReference" [
        s(5, "apiVersion").req(), s(1, "kind").req(), s(3, "name").req(), s(4, "uid").req(),
        f(6, "controller", Bool).opt(), f(7, "blockOwnerDeletion", Bool).opt(),
    ]
    LABEL_SELECTOR "LabelSelector" [
        f(1, "matchLabels", STR_MAP), m(2, "matchExpressions", &LABEL_SELECTOR_REQUIREMENT).rep(),
    ]
    LABEL_SELECTOR_REQUIREMENT "LabelSelectorRequirement" [
        s(1, "key").req(), s(2, "operator").req(), s(3, "values").rep(),
    ]
    DELETE_OPTIONS "DeleteOptions" [
        f(1, "gracePeriodSeconds", I64).opt(), m(2, "preconditions", &PRECONDITIONS),
        f(3, "orphanDependents", Bool).opt(), s(4, "propagationPolicy").opt(), s(5, "dryRun").rep(),
        f(6, "ignoreStoreReadErrorWithClusterBreakingPotential", Bool).opt(),
    ]
    PRECONDITIONS "Preconditions" [s(1, "uid").opt(), s(2, "resourceVersion").opt()]
}

// core/v1 objects other than Pod.
messages! {
    NAMESPACE "Namespace" [
        m(1, "metadata", &OBJECT_META), m(2, "spec", &NAMESPACE_SPEC),
        m(3, "status", &NAMESPACE_STATUS),
    ]
    NAMESPACE_SPEC "NamespaceSpec" [s(1, "finalizers").rep()]
    NAMESPACE_STATUS "NamespaceStatus" [s(1, "phase")]
    CONFIG_MAP "ConfigMap" [
        m(1, "metadata", &OBJECT_META), f(4, "immutable", Bool).opt(),
        f(2, "data", STR_MAP), f(3, "binaryData", BYTES_MAP),
    ]
    SECRET "Secret" [
        m(1, "metadata", &OBJECT_META), f(5, "immutable", Bool).opt(), f(2, "data", BYTES_MAP),
        f(4, "stringData", STR_MAP), s(3, "type"),
    ]
    SERVICE_ACCOUNT "ServiceAccount" [
        m(1, "metadata", &OBJECT_META), m(2, "secrets", &OBJECT_REFERENCE).rep(),
        m(3, "imagePullSecrets", &LOCAL_OBJECT_REFERENCE).rep(),
        f(4, "automountServiceAccountToken", Bool).opt(),
    ]
    OBJECT_REFERENCE "ObjectReference" [
        s(1, "kind"), s(2, "namespace"), s(3, "name"), s(4, "uid"), s(5, "apiVersion"),
        s(6, "resourceVersion"), s(7, "fieldPath"),
    ]
    LOCAL_OBJECT_REFERENCE "LocalObjectReference" [s(1, "name")]
    TYPED_LOCAL_OBJECT_REFERENCE "TypedLocalObjectReference" [
        s(1, "apiGroup").opt(), s(2, "kind").req(), s(3, "name").req(),
    ]
    SERVICE "Service" [
        m(1, "metadata", &OBJECT_META), m(2, "spec", &SERVICE_SPEC),
        m(3, "status", &SERVICE_STATUS),
    ]
    SERVICE_SPEC "ServiceSpec" [
        m(1, "ports", &SERVICE_PORT).rep(), f(2, "selector", STR_MAP), s(3, "clusterIP"),
        s(18, "clusterIPs").rep(), s(4, "type"), s(5, "externalIPs").rep(), s(7, "sessionAffinity"),
        s(8, "loadBalancerIP"), s(9, "loadBalancerSourceRanges").rep(), s(10, "externalName"),
        s(11, "externalTrafficPolicy"), f(12, "healthCheckNodePort", I32),
        f(13, "publishNotReadyAddresses", Bool), s(19, "ipFamilies").rep(),
        s(17, "ipFamilyPolicy").opt(),
        f(20, "allocateLoadBalancerNodePorts", Bool).opt(), s(21, "loadBalancerClass").opt(),
        s(22, "internalTrafficPolicy").opt(), s(23, "trafficDistribution").opt(),
    ]
    SERVICE_PORT "ServicePort" [
        s(1, "name"), s(2, "protocol"), s(6, "appProtocol").opt(), f(3, "port", I32).req(),
        f(4, "targetPort", IntOrString), f(5, "nodePort", I32),
    ]
    SERVICE_STATUS "ServiceStatus" [m(1, "loadBalancer", &LOAD_BALANCER_STATUS)]
    LOAD_BALANCER_STATUS "LoadBalancerStatus" []
    RESOURCE_QUOTA "ResourceQuota" [
        m(1, "metadata", &OBJECT_META), m(2, "spec", &RESOURCE_QUOTA_SPEC),
        m(3, "status", &RESOURCE_QUOTA_STATUS),
    ]
    RESOURCE_QUOTA_SPEC "ResourceQuotaSpec" [f(1, "hard", QUANTITY_MAP), s(2, "scopes").rep()]
    RESOURCE_QUOTA_STATUS "ResourceQuotaStatus" [
        f(1, "hard", QUANTITY_MAP), f(2, "used", QUANTITY_MAP),
    ]
}

// rbac.authorization.k8s.io/v1 and authentication.k8s.io/v1.
messages! {
    ROLE "Role" [m(1, "metadata", &OBJECT_META), m(2, "rules", &POLICY_RULE).rep_req()]
    CLUSTER_ROLE "ClusterRole" [
        m(1, "metadata", &OBJECT_META), m(2, "rules", &POLICY_RULE).rep_req(),
        m(3, "aggregationRule", &AGGREGATION_RULE),
    ]
    POLICY_RULE "PolicyRule" [
        s(1, "verbs").rep_req(), s(2, "apiGroups").rep(), s(3, "resources").rep(),
        s(4, "resourceNames").rep(), s(5, "nonResourceURLs").rep(),
    ]
    AGGREGATION_RULE "AggregationRule" [m(1, "clusterRoleSelectors", &LABEL_SELECTOR).rep()]
    ROLE_BINDING "RoleBinding" [
        m(1, "metadata", &OBJECT_META), m(2, "subjects", &SUBJECT).rep(),
        m(3, "roleRef", &ROLE_REF).req(),
    ]
    CLUSTER_ROLE_BINDING "ClusterRoleBinding" [
        m(1, "metadata", &OBJECT_META), m(2, "subjects", &SUBJECT).rep(),
        m(3, "roleRef", &ROLE_REF).req(),
    ]
    SUBJECT "Subject" [s(1, "kind").req(), s(2, "apiGroup"), s(3, "name").req(), s(4, "namespace")]
    ROLE_REF "RoleRef" [s(1, "apiGroup").req(), s(2, "kind").req(), s(3, "name").req()]
    TOKEN_REQUEST "TokenRequest" [
        m(1, "metadata", &OBJECT_META), m(2, "spec", &TOKEN_REQUEST_SPEC).req(),
        m(3, "status", &TOKEN_REQUEST_STATUS),
    ]
    TOKEN_REQUEST_SPEC "TokenRequestSpec" [
        s(1, "audiences").rep_req(), f(4, "expirationSeconds", I64).opt(),
        m(3, "boundObjectRef", &BOUND_OBJECT_REFERENCE),
    ]
    BOUND_OBJECT_REFERENCE "BoundObjectReference" [
        s(1, "kind"), s(2, "apiVersion"), s(3, "name"), s(4, "uid"),
    ]
    TOKEN_REQUEST_STATUS "TokenRequestStatus" [
        s(1, "token").req(), f(2, "expirationTimestamp", Time).req(),
    ]
}

// Pods and the workloads that carry a pod template.
messages! {
    POD "Pod" [m(1, "metadata", &OBJECT_META), m(2, "spec", &POD_SPEC), m(3, "status", &POD_STATUS)]
    POD_STATUS "PodStatus" [s(1, "phase"), s(3, "message"), s(4, "reason"), s(9, "qosClass")]
    POD_TEMPLATE_SPEC "PodTemplateSpec" [m(1, "metadata", &OBJECT_META), m(2, "spec", &POD_SPEC)]
    POD_SPEC "PodSpec" [
        m(1, "volumes", &VOLUME).rep(), m(20, "initContainers", &CONTAINER).rep(),
        m(2, "containers", &CONTAINER).rep_req(), s(3, "restartPolicy"),
        f(4, "terminationGracePeriodSeconds", I64).opt(), f(5, "activeDeadlineSeconds", I64).opt(),
        s(6, "dnsPolicy"), f(7, "nodeSelector", STR_MAP), s(8, "serviceAccountName"),
        s(9, "serviceAccount"), f(21, "automountServiceAccountToken", Bool).opt(),
        s(10, "nodeName"),
        f(11, "hostNetwork", Bool), f(12, "hostPID", Bool), f(13, "hostIPC", Bool),
        f(27, "shareProcessNamespace", Bool).opt(), m(14, "securityContext", &POD_SECURITY_CONTEXT),
        m(15, "imagePullSecrets", &LOCAL_OBJECT_REFERENCE).rep(), s(16, "hostname"),
        s(17, "subdomain"),
        s(19, "schedulerName"), m(22, "tolerations", &TOLERATION).rep(), s(24, "priorityClassName"),
        f(25, "priority", I32).opt(), s(29, "runtimeClassName").opt(),
        f(30, "enableServiceLinks", Bool).opt(), s(31, "preemptionPolicy").opt(),
        f(35, "setHostnameAsFQDN", Bool).opt(), f(37, "hostUsers", Bool).opt(),
        m(40, "resources", &RESOURCE_REQUIREMENTS),
    ]
    CONTAINER "Container" [
        s(1, "name").req(), s(2, "image"), s(3, "command").rep(), s(4, "args").rep(),
        s(5, "workingDir"),
        m(6, "ports", &CONTAINER_PORT).rep(), m(19, "envFrom", &ENV_FROM_SOURCE).rep(),
        m(7, "env", &ENV_VAR).rep(), m(8, "resources", &RESOURCE_REQUIREMENTS),
        s(24, "restartPolicy").opt(), m(9, "volumeMounts", &VOLUME_MOUNT).rep(),
        s(13, "terminationMessagePath"), s(20, "terminationMessagePolicy"),
        s(14, "imagePullPolicy"),
        m(15, "securityContext", &SECURITY_CONTEXT), f(16, "stdin", Bool), f(17, "stdinOnce", Bool),
        f(18, "tty", Bool),
    ]
    CONTAINER_PORT "ContainerPort" [
        s(1, "name"), f(2, "hostPort", I32), f(3, "containerPort", I32).req(), s(4, "protocol"),
        s(5, "hostIP"),
    ]
    ENV_VAR "EnvVar" [s(1, "name").req(), s(2, "value"), m(3, "valueFrom", &ENV_VAR_SOURCE)]
    ENV_VAR_SOURCE "EnvVarSource" [
        m(1, "fieldRef", &OBJECT_FIELD_SELECTOR),
        m(2, "resourceFieldRef", &RESOURCE_FIELD_SELECTOR),
        m(3, "configMapKeyRef", &KEY_SELECTOR), m(4, "secretKeyRef", &KEY_SELECTOR),
    ]
    OBJECT_FIELD_SELECTOR "ObjectFieldSelector" [s(1, "apiVersion"), s(2, "fieldPath").req()]
    RESOURCE_FIELD_SELECTOR "ResourceFieldSelector" [
        s(1, "containerName"), s(2, "resource").req(), f(3, "divisor", Quantity),
    ]
    // ConfigMapKeySelector and SecretKeySelector share one layout.
    KEY_SELECTOR "KeySelector" [
        inline(1, &LOCAL_OBJECT_REFERENCE), s(2, "key").req(), f(3, "optional", Bool).opt(),
    ]
    ENV_FROM_SOURCE "EnvFromSource" [
        s(1, "prefix"), m(2, "configMapRef", &ENV_SOURCE), m(3, "secretRef", &ENV_SOURCE),
    ]
    // ConfigMapEnvSource and SecretEnvSource share one layout.
    ENV_SOURCE "EnvSource" [inline(1, &LOCAL_OBJECT_REFERENCE), f(2, "optional", Bool).opt()]
    RESOURCE_REQUIREMENTS "ResourceRequirements" [
        f(1, "limits", QUANTITY_MAP), f(2, "requests", QUANTITY_MAP),
        m(3, "claims", &RESOURCE_CLAIM).rep(),
    ]
    RESOURCE_CLAIM "ResourceClaim" [s(1, "name").req(), s(2, "request")]
    VOLUME_MOUNT "VolumeMount" [
        s(1, "name").req(), f(2, "readOnly", Bool), s(7, "recursiveReadOnly").opt(),
        s(3, "mountPath").req(),
        s(4, "subPath"), s(5, "mountPropagation").opt(), s(6, "subPathExpr"),
    ]
    VOLUME "Volume" [s(1, "name").req(), inline(2, &VOLUME_SOURCE)]
    VOLUME_SOURCE "VolumeSource" [
        m(1, "hostPath", &HOST_PATH), m(2, "emptyDir", &EMPTY_DIR), m(6, "secret", &SECRET_VOLUME),
        m(10, "persistentVolumeClaim", &PVC_VOLUME), m(19, "configMap", &CONFIG_MAP_VOLUME),
    ]
    HOST_PATH "HostPathVolumeSource" [s(1, "path").req(), s(2, "type").opt()]
    EMPTY_DIR "EmptyDirVolumeSource" [s(1, "medium"), f(2, "sizeLimit", Quantity).opt()]
    SECRET_VOLUME "SecretVolumeSource" [
        s(1, "secretName"), m(2, "items", &KEY_TO_PATH).rep(), f(3, "defaultMode", I32).opt(),
        f(4, "optional", Bool).opt(),
    ]
    CONFIG_MAP_VOLUME "ConfigMapVolumeSource" [
        inline(1, &LOCAL_OBJECT_REFERENCE), m(2, "items", &KEY_TO_PATH).rep(),
        f(3, "defaultMode", I32).opt(), f(4, "optional", Bool).opt(),
    ]
    KEY_TO_PATH "KeyToPath" [s(1, "key").req(), s(2, "path").req(), f(3, "mode", I32).opt()]
    PVC_VOLUME "PersistentVolumeClaimVolumeSource" [s(1, "claimName").req(), f(2, "readOnly", Bool)]
    POD_SECURITY_CONTEXT "PodSecurityContext" [
        f(2, "runAsUser", I64).opt(), f(6, "runAsGroup", I64).opt(),
        f(3, "runAsNonRoot", Bool).opt(),
        f(4, "supplementalGroups", I64).rep(), s(12, "supplementalGroupsPolicy").opt(),
        f(5, "fsGroup", I64).opt(), s(9, "fsGroupChangePolicy").opt(),
        m(10, "seccompProfile", &SECCOMP_PROFILE),
    ]
    SECURITY_CONTEXT "SecurityContext" [
        m(1, "capabilities", &CAPABILITIES), f(2, "privileged", Bool).opt(),
        f(4, "runAsUser", I64).opt(),
        f(8, "runAsGroup", I64).opt(), f(5, "runAsNonRoot", Bool).opt(),
        f(6, "readOnlyRootFilesystem", Bool).opt(), f(7, "allowPrivilegeEscalation", Bool).opt(),
        s(9, "procMount").opt(), m(11, "seccompProfile", &SECCOMP_PROFILE),
    ]
    CAPABILITIES "Capabilities" [s(1, "add").rep(), s(2, "drop").rep()]
    SECCOMP_PROFILE "SeccompProfile" [s(1, "type").req(), s(2, "localhostProfile").opt()]
    TOLERATION "Toleration" [
        s(1, "key"), s(2, "operator"), s(3, "value"), s(4, "effect"),
        f(5, "tolerationSeconds", I64).opt(),
    ]

    DEPLOYMENT "Deployment" [
        m(1, "metadata", &OBJECT_META), m(2, "spec", &DEPLOYMENT_SPEC),
        m(3, "status", &DEPLOYMENT_STATUS),
    ]
    DEPLOYMENT_SPEC "DeploymentSpec" [
        f(1, "replicas", I32).opt(), m(2, "selector", &LABEL_SELECTOR),
        m(3, "template", &POD_TEMPLATE_SPEC).req(),
        m(4, "strategy", &DEPLOYMENT_STRATEGY), f(5, "minReadySeconds", I32),
        f(6, "revisionHistoryLimit", I32).opt(), f(7, "paused", Bool),
        f(9, "progressDeadlineSeconds", I32).opt(),
    ]
    DEPLOYMENT_STRATEGY "DeploymentStrategy" [
        s(1, "type"), m(2, "rollingUpdate", &ROLLING_UPDATE_DEPLOYMENT),
    ]
    ROLLING_UPDATE_DEPLOYMENT "RollingUpdateDeployment" [
        f(1, "maxUnavailable", IntOrString), f(2, "maxSurge", IntOrString),
    ]
    DEPLOYMENT_STATUS "DeploymentStatus" [
        f(1, "observedGeneration", I64), f(2, "replicas", I32), f(3, "updatedReplicas", I32),
        f(7, "readyReplicas", I32), f(4, "availableReplicas", I32),
        f(5, "unavailableReplicas", I32),
        f(9, "terminatingReplicas", I32).opt(), f(8, "collisionCount", I32).opt(),
    ]
    JOB "Job" [m(1, "metadata", &OBJECT_META), m(2, "spec", &JOB_SPEC), m(3, "status", &JOB_STATUS)]
    JOB_SPEC "JobSpec" [
        f(1, "parallelism", I32).opt(), f(2, "completions", I32).opt(),
        f(3, "activeDeadlineSeconds", I64).opt(),
        f(7, "backoffLimit", I32).opt(), f(12, "backoffLimitPerIndex", I32).opt(),
        f(13, "maxFailedIndexes", I32).opt(), m(4, "selector", &LABEL_SELECTOR),
        f(5, "manualSelector", Bool).opt(), m(6, "template", &POD_TEMPLATE_SPEC).req(),
        f(8, "ttlSecondsAfterFinished", I32).opt(), s(9, "completionMode").opt(),
        f(10, "suspend", Bool).opt(),
        s(14, "podReplacementPolicy").opt(), s(15, "managedBy").opt(),
    ]
    JOB_STATUS "JobStatus" [
        f(2, "startTime", Time).opt(), f(3, "completionTime", Time).opt(), f(4, "active", I32),
        f(5, "succeeded", I32), f(6, "failed", I32), f(11, "terminating", I32).opt(),
        s(7, "completedIndexes"), s(10, "failedIndexes").opt(), f(9, "ready", I32).opt(),
    ]
    CRON_JOB "CronJob" [
        m(1, "metadata", &OBJECT_META), m(2, "spec", &CRON_JOB_SPEC),
        m(3, "status", &CRON_JOB_STATUS),
    ]
    CRON_JOB_SPEC "CronJobSpec" [
        s(1, "schedule").req(), s(8, "timeZone").opt(), f(2, "startingDeadlineSeconds", I64).opt(),
        s(3, "concurrencyPolicy"), f(4, "suspend", Bool).opt(),
        m(5, "jobTemplate", &JOB_TEMPLATE_SPEC).req(),
        f(6, "successfulJobsHistoryLimit", I32).opt(), f(7, "failedJobsHistoryLimit", I32).opt(),
    ]
    JOB_TEMPLATE_SPEC "JobTemplateSpec" [m(1, "metadata", &OBJECT_META), m(2, "spec", &JOB_SPEC)]
    CRON_JOB_STATUS "CronJobStatus" [
        m(1, "active", &OBJECT_REFERENCE).rep(), f(4, "lastScheduleTime", Time).opt(),
        f(5, "lastSuccessfulTime", Time).opt(),
    ]
}

// policy/v1, scheduling.k8s.io/v1, networking.k8s.io/v1.
messages! {
    EVICTION "Eviction" [m(1, "metadata", &OBJECT_META), m(2, "deleteOptions", &DELETE_OPTIONS)]
    POD_DISRUPTION_BUDGET "PodDisruptionBudget" [
        m(1, "metadata", &OBJECT_META), m(2, "spec", &PDB_SPEC), m(3, "status", &PDB_STATUS),
    ]
    PDB_SPEC "PodDisruptionBudgetSpec" [
        f(1, "minAvailable", IntOrString).opt(), m(2, "selector", &LABEL_SELECTOR),
        f(3, "maxUnavailable", IntOrString).opt(), s(4, "unhealthyPodEvictionPolicy").opt(),
    ]
    PDB_STATUS "PodDisruptionBudgetStatus" [
        f(1, "observedGeneration", I64), f(2, "disruptedPods", Ty::Map(&Time)),
        f(3, "disruptionsAllowed", I32).req(), f(4, "currentHealthy", I32).req(),
        f(5, "desiredHealthy", I32).req(), f(6, "expectedPods", I32).req(),
    ]
    PRIORITY_CLASS "PriorityClass" [
        m(1, "metadata", &OBJECT_META), f(2, "value", I32).req(), f(3, "globalDefault", Bool),
        s(4, "description"), s(5, "preemptionPolicy").opt(),
    ]
    INGRESS "Ingress" [
        m(1, "metadata", &OBJECT_META), m(2, "spec", &INGRESS_SPEC),
        m(3, "status", &INGRESS_STATUS),
    ]
    INGRESS_SPEC "IngressSpec" [
        s(4, "ingressClassName").opt(), m(1, "defaultBackend", &INGRESS_BACKEND),
        m(2, "tls", &INGRESS_TLS).rep(), m(3, "rules", &INGRESS_RULE).rep(),
    ]
    INGRESS_TLS "IngressTLS" [s(1, "hosts").rep(), s(2, "secretName")]
    INGRESS_RULE "IngressRule" [s(1, "host"), inline(2, &INGRESS_RULE_VALUE)]
    INGRESS_RULE_VALUE "IngressRuleValue" [m(1, "http", &HTTP_INGRESS_RULE_VALUE)]
    HTTP_INGRESS_RULE_VALUE "HTTPIngressRuleValue" [m(1, "paths", &HTTP_INGRESS_PATH).rep_req()]
    HTTP_INGRESS_PATH "HTTPIngressPath" [
        s(1, "path"), s(3, "pathType").opt(), m(2, "backend", &INGRESS_BACKEND).req(),
    ]
    INGRESS_BACKEND "IngressBackend" [
        m(4, "service", &INGRESS_SERVICE_BACKEND), m(3, "resource", &TYPED_LOCAL_OBJECT_REFERENCE),
    ]
    INGRESS_SERVICE_BACKEND "IngressServiceBackend" [
        s(1, "name").req(), m(2, "port", &SERVICE_BACKEND_PORT),
    ]
    SERVICE_BACKEND_PORT "ServiceBackendPort" [s(1, "name"), f(2, "number", I32)]
    INGRESS_STATUS "IngressStatus" [m(1, "loadBalancer", &INGRESS_LOAD_BALANCER_STATUS)]
    INGRESS_LOAD_BALANCER_STATUS "IngressLoadBalancerStatus" []
}
