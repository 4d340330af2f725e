from __future__ import annotations

from pkgutil import extend_path
__path__ = extend_path(__path__, __name__)

import abc
import builtins
import datetime
import enum
import typing

import jsii
import publication
import typing_extensions

from jsii._type_checking import cached_type_hints, check_type


from ._jsii import *

class _LazyImport:
    def __init__(self, module_name: str) -> None:
        self._module_name = module_name
        self._module: typing.Any = None
    def __getattr__(self, name: str) -> typing.Any:
        if self._module is None:
            import importlib
            self._module = importlib.import_module(self._module_name)
        return getattr(self._module, name)

if typing.TYPE_CHECKING:

    import cdk8s as _cdk8s_d3d9af27
    import constructs as _constructs_77d1e7e8
else:

    _cdk8s_d3d9af27 = _LazyImport("cdk8s")
    _constructs_77d1e7e8 = _LazyImport("constructs")


class Database(
    _cdk8s_d3d9af27.ApiObject,
    metaclass=jsii.JSIIMeta,
    jsii_type="cnpg_databases_iocnpgpostgresql.Database",
):
    '''Database is the Schema for the databases API.

    :schema: Database
    '''

    def __init__(
        self,
        scope: "_constructs_77d1e7e8.Construct",
        id: builtins.str,
        *,
        metadata: typing.Union["_cdk8s_d3d9af27.ApiObjectMetadata", typing.Dict[builtins.str, typing.Any]],
        spec: typing.Union["DatabaseSpec", typing.Dict[builtins.str, typing.Any]],
    ) -> None:
        '''Defines a "Database" API object.

        :param scope: the scope in which to define this object.
        :param id: a scope-local name for the object.
        :param metadata: 
        :param spec: Specification of the desired Database. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__fb57ef847941ee70df404a9a8ecd72350e0b19790b7f01b6dd6499ae2e24edf3)
            check_type(argname="argument scope", value=scope, expected_type=type_hints["scope"])
            check_type(argname="argument id", value=id, expected_type=type_hints["id"])
        props = DatabaseProps(metadata=metadata, spec=spec)

        jsii.create(self.__class__, self, [scope, id, props])

    @jsii.member(jsii_name="manifest")
    @builtins.classmethod
    def manifest(
        cls,
        *,
        metadata: typing.Union["_cdk8s_d3d9af27.ApiObjectMetadata", typing.Dict[builtins.str, typing.Any]],
        spec: typing.Union["DatabaseSpec", typing.Dict[builtins.str, typing.Any]],
    ) -> typing.Any:
        '''Renders a Kubernetes manifest for "Database".

        This can be used to inline resource manifests inside other objects (e.g. as templates).

        :param metadata: 
        :param spec: Specification of the desired Database. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status
        '''
        props = DatabaseProps(metadata=metadata, spec=spec)

        return typing.cast(typing.Any, jsii.sinvoke(cls, "manifest", [props]))

    @jsii.member(jsii_name="toJson")
    def to_json(self) -> typing.Any:
        '''Renders the object to Kubernetes JSON.'''
        return typing.cast(typing.Any, jsii.invoke(self, "toJson", []))

    @jsii.python.classproperty
    @jsii.member(jsii_name="GVK")
    def GVK(cls) -> "_cdk8s_d3d9af27.GroupVersionKind":
        '''Returns the apiVersion and kind for "Database".'''
        return typing.cast("_cdk8s_d3d9af27.GroupVersionKind", jsii.sget(cls, "GVK"))


@jsii.data_type(
    jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseProps",
    jsii_struct_bases=[],
    name_mapping={"metadata": "metadata", "spec": "spec"},
)
class DatabaseProps:
    def __init__(
        self,
        *,
        metadata: typing.Union["_cdk8s_d3d9af27.ApiObjectMetadata", typing.Dict[builtins.str, typing.Any]],
        spec: typing.Union["DatabaseSpec", typing.Dict[builtins.str, typing.Any]],
    ) -> None:
        '''Database is the Schema for the databases API.

        :param metadata: 
        :param spec: Specification of the desired Database. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status

        :schema: Database
        '''
        if isinstance(metadata, dict):
            metadata = _cdk8s_d3d9af27.ApiObjectMetadata(**metadata)
        if isinstance(spec, dict):
            spec = DatabaseSpec(**spec)
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__4fc109a467bf86ce8b849c8c25d68f5a26f8fe33dd338a57e7bc89c685d3b719)
            check_type(argname="argument metadata", value=metadata, expected_type=type_hints["metadata"])
            check_type(argname="argument spec", value=spec, expected_type=type_hints["spec"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "metadata": metadata,
            "spec": spec,
        }

    @builtins.property
    def metadata(self) -> "_cdk8s_d3d9af27.ApiObjectMetadata":
        '''
        :schema: Database#metadata
        '''
        result = self._values.get("metadata")
        assert result is not None, "Required property 'metadata' is missing"
        return typing.cast("_cdk8s_d3d9af27.ApiObjectMetadata", result)

    @builtins.property
    def spec(self) -> "DatabaseSpec":
        '''Specification of the desired Database.

        More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status

        :schema: Database#spec
        '''
        result = self._values.get("spec")
        assert result is not None, "Required property 'spec' is missing"
        return typing.cast("DatabaseSpec", result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "DatabaseProps(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpec",
    jsii_struct_bases=[],
    name_mapping={
        "cluster": "cluster",
        "name": "name",
        "owner": "owner",
        "allow_connections": "allowConnections",
        "builtin_locale": "builtinLocale",
        "collation_version": "collationVersion",
        "connection_limit": "connectionLimit",
        "database_reclaim_policy": "databaseReclaimPolicy",
        "encoding": "encoding",
        "ensure": "ensure",
        "extensions": "extensions",
        "fdws": "fdws",
        "icu_locale": "icuLocale",
        "icu_rules": "icuRules",
        "is_template": "isTemplate",
        "locale": "locale",
        "locale_collate": "localeCollate",
        "locale_c_type": "localeCType",
        "locale_provider": "localeProvider",
        "schemas": "schemas",
        "servers": "servers",
        "tablespace": "tablespace",
        "template": "template",
    },
)
class DatabaseSpec:
    def __init__(
        self,
        *,
        cluster: typing.Union["DatabaseSpecCluster", typing.Dict[builtins.str, typing.Any]],
        name: builtins.str,
        owner: builtins.str,
        allow_connections: typing.Optional[builtins.bool] = None,
        builtin_locale: typing.Optional[builtins.str] = None,
        collation_version: typing.Optional[builtins.str] = None,
        connection_limit: typing.Optional[jsii.Number] = None,
        database_reclaim_policy: typing.Optional["DatabaseSpecDatabaseReclaimPolicy"] = None,
        encoding: typing.Optional[builtins.str] = None,
        ensure: typing.Optional["DatabaseSpecEnsure"] = None,
        extensions: typing.Optional[typing.Sequence[typing.Union["DatabaseSpecExtensions", typing.Dict[builtins.str, typing.Any]]]] = None,
        fdws: typing.Optional[typing.Sequence[typing.Union["DatabaseSpecFdws", typing.Dict[builtins.str, typing.Any]]]] = None,
        icu_locale: typing.Optional[builtins.str] = None,
        icu_rules: typing.Optional[builtins.str] = None,
        is_template: typing.Optional[builtins.bool] = None,
        locale: typing.Optional[builtins.str] = None,
        locale_collate: typing.Optional[builtins.str] = None,
        locale_c_type: typing.Optional[builtins.str] = None,
        locale_provider: typing.Optional[builtins.str] = None,
        schemas: typing.Optional[typing.Sequence[typing.Union["DatabaseSpecSchemas", typing.Dict[builtins.str, typing.Any]]]] = None,
        servers: typing.Optional[typing.Sequence[typing.Union["DatabaseSpecServers", typing.Dict[builtins.str, typing.Any]]]] = None,
        tablespace: typing.Optional[builtins.str] = None,
        template: typing.Optional[builtins.str] = None,
    ) -> None:
        '''Specification of the desired Database.

        More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status

        :param cluster: The name of the PostgreSQL cluster hosting the database.
        :param name: The name of the database to create inside PostgreSQL. This setting cannot be changed.
        :param owner: Maps to the ``OWNER`` parameter of ``CREATE DATABASE``. Maps to the ``OWNER TO`` command of ``ALTER DATABASE``. The role name of the user who owns the database inside PostgreSQL.
        :param allow_connections: Maps to the ``ALLOW_CONNECTIONS`` parameter of ``CREATE DATABASE`` and ``ALTER DATABASE``. If false then no one can connect to this database.
        :param builtin_locale: Maps to the ``BUILTIN_LOCALE`` parameter of ``CREATE DATABASE``. This setting cannot be changed. Specifies the locale name when the builtin provider is used. This option requires ``localeProvider`` to be set to ``builtin``. Available from PostgreSQL 17.
        :param collation_version: Maps to the ``COLLATION_VERSION`` parameter of ``CREATE DATABASE``. This setting cannot be changed.
        :param connection_limit: Maps to the ``CONNECTION LIMIT`` clause of ``CREATE DATABASE`` and ``ALTER DATABASE``. How many concurrent connections can be made to this database. -1 (the default) means no limit.
        :param database_reclaim_policy: The policy for end-of-life maintenance of this database.
        :param encoding: Maps to the ``ENCODING`` parameter of ``CREATE DATABASE``. This setting cannot be changed. Character set encoding to use in the database.
        :param ensure: Ensure the PostgreSQL database is ``present`` or ``absent`` - defaults to "present".
        :param extensions: The list of extensions to be managed in the database.
        :param fdws: The list of foreign data wrappers to be managed in the database.
        :param icu_locale: Maps to the ``ICU_LOCALE`` parameter of ``CREATE DATABASE``. This setting cannot be changed. Specifies the ICU locale when the ICU provider is used. This option requires ``localeProvider`` to be set to ``icu``. Available from PostgreSQL 15.
        :param icu_rules: Maps to the ``ICU_RULES`` parameter of ``CREATE DATABASE``. This setting cannot be changed. Specifies additional collation rules to customize the behavior of the default collation. This option requires ``localeProvider`` to be set to ``icu``. Available from PostgreSQL 16.
        :param is_template: Maps to the ``IS_TEMPLATE`` parameter of ``CREATE DATABASE`` and ``ALTER DATABASE``. If true, this database is considered a template and can be cloned by any user with ``CREATEDB`` privileges.
        :param locale: Maps to the ``LOCALE`` parameter of ``CREATE DATABASE``. This setting cannot be changed. Sets the default collation order and character classification in the new database.
        :param locale_collate: Maps to the ``LC_COLLATE`` parameter of ``CREATE DATABASE``. This setting cannot be changed.
        :param locale_c_type: Maps to the ``LC_CTYPE`` parameter of ``CREATE DATABASE``. This setting cannot be changed.
        :param locale_provider: Maps to the ``LOCALE_PROVIDER`` parameter of ``CREATE DATABASE``. This setting cannot be changed. This option sets the locale provider for databases created in the new cluster. Available from PostgreSQL 16.
        :param schemas: The list of schemas to be managed in the database.
        :param servers: The list of foreign servers to be managed in the database.
        :param tablespace: Maps to the ``TABLESPACE`` parameter of ``CREATE DATABASE``. Maps to the ``SET TABLESPACE`` command of ``ALTER DATABASE``. The name of the tablespace (in PostgreSQL) that will be associated with the new database. This tablespace will be the default tablespace used for objects created in this database.
        :param template: Maps to the ``TEMPLATE`` parameter of ``CREATE DATABASE``. This setting cannot be changed. The name of the template from which to create this database.

        :schema: DatabaseSpec
        '''
        if isinstance(cluster, dict):
            cluster = DatabaseSpecCluster(**cluster)
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__cacfbd633a049a2581e870646b5782e2352dd316e654e9b07b2578f05647d84e)
            check_type(argname="argument cluster", value=cluster, expected_type=type_hints["cluster"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
            check_type(argname="argument owner", value=owner, expected_type=type_hints["owner"])
            check_type(argname="argument allow_connections", value=allow_connections, expected_type=type_hints["allow_connections"])
            check_type(argname="argument builtin_locale", value=builtin_locale, expected_type=type_hints["builtin_locale"])
            check_type(argname="argument collation_version", value=collation_version, expected_type=type_hints["collation_version"])
            check_type(argname="argument connection_limit", value=connection_limit, expected_type=type_hints["connection_limit"])
            check_type(argname="argument database_reclaim_policy", value=database_reclaim_policy, expected_type=type_hints["database_reclaim_policy"])
            check_type(argname="argument encoding", value=encoding, expected_type=type_hints["encoding"])
            check_type(argname="argument ensure", value=ensure, expected_type=type_hints["ensure"])
            check_type(argname="argument extensions", value=extensions, expected_type=type_hints["extensions"])
            check_type(argname="argument fdws", value=fdws, expected_type=type_hints["fdws"])
            check_type(argname="argument icu_locale", value=icu_locale, expected_type=type_hints["icu_locale"])
            check_type(argname="argument icu_rules", value=icu_rules, expected_type=type_hints["icu_rules"])
            check_type(argname="argument is_template", value=is_template, expected_type=type_hints["is_template"])
            check_type(argname="argument locale", value=locale, expected_type=type_hints["locale"])
            check_type(argname="argument locale_collate", value=locale_collate, expected_type=type_hints["locale_collate"])
            check_type(argname="argument locale_c_type", value=locale_c_type, expected_type=type_hints["locale_c_type"])
            check_type(argname="argument locale_provider", value=locale_provider, expected_type=type_hints["locale_provider"])
            check_type(argname="argument schemas", value=schemas, expected_type=type_hints["schemas"])
            check_type(argname="argument servers", value=servers, expected_type=type_hints["servers"])
            check_type(argname="argument tablespace", value=tablespace, expected_type=type_hints["tablespace"])
            check_type(argname="argument template", value=template, expected_type=type_hints["template"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "cluster": cluster,
            "name": name,
            "owner": owner,
        }
        if allow_connections is not None:
            self._values["allow_connections"] = allow_connections
        if builtin_locale is not None:
            self._values["builtin_locale"] = builtin_locale
        if collation_version is not None:
            self._values["collation_version"] = collation_version
        if connection_limit is not None:
            self._values["connection_limit"] = connection_limit
        if database_reclaim_policy is not None:
            self._values["database_reclaim_policy"] = database_reclaim_policy
        if encoding is not None:
            self._values["encoding"] = encoding
        if ensure is not None:
            self._values["ensure"] = ensure
        if extensions is not None:
            self._values["extensions"] = extensions
        if fdws is not None:
            self._values["fdws"] = fdws
        if icu_locale is not None:
            self._values["icu_locale"] = icu_locale
        if icu_rules is not None:
            self._values["icu_rules"] = icu_rules
        if is_template is not None:
            self._values["is_template"] = is_template
        if locale is not None:
            self._values["locale"] = locale
        if locale_collate is not None:
            self._values["locale_collate"] = locale_collate
        if locale_c_type is not None:
            self._values["locale_c_type"] = locale_c_type
        if locale_provider is not None:
            self._values["locale_provider"] = locale_provider
        if schemas is not None:
            self._values["schemas"] = schemas
        if servers is not None:
            self._values["servers"] = servers
        if tablespace is not None:
            self._values["tablespace"] = tablespace
        if template is not None:
            self._values["template"] = template

    @builtins.property
    def cluster(self) -> "DatabaseSpecCluster":
        '''The name of the PostgreSQL cluster hosting the database.

        :schema: DatabaseSpec#cluster
        '''
        result = self._values.get("cluster")
        assert result is not None, "Required property 'cluster' is missing"
        return typing.cast("DatabaseSpecCluster", result)

    @builtins.property
    def name(self) -> builtins.str:
        '''The name of the database to create inside PostgreSQL.

        This setting cannot be changed.

        :schema: DatabaseSpec#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def owner(self) -> builtins.str:
        '''Maps to the ``OWNER`` parameter of ``CREATE DATABASE``.

        Maps to the ``OWNER TO`` command of ``ALTER DATABASE``.
        The role name of the user who owns the database inside PostgreSQL.

        :schema: DatabaseSpec#owner
        '''
        result = self._values.get("owner")
        assert result is not None, "Required property 'owner' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def allow_connections(self) -> typing.Optional[builtins.bool]:
        '''Maps to the ``ALLOW_CONNECTIONS`` parameter of ``CREATE DATABASE`` and ``ALTER DATABASE``.

        If false then no one can connect to this database.

        :schema: DatabaseSpec#allowConnections
        '''
        result = self._values.get("allow_connections")
        return typing.cast(typing.Optional[builtins.bool], result)

    @builtins.property
    def builtin_locale(self) -> typing.Optional[builtins.str]:
        '''Maps to the ``BUILTIN_LOCALE`` parameter of ``CREATE DATABASE``.

        This
        setting cannot be changed. Specifies the locale name when the
        builtin provider is used. This option requires ``localeProvider`` to
        be set to ``builtin``. Available from PostgreSQL 17.

        :schema: DatabaseSpec#builtinLocale
        '''
        result = self._values.get("builtin_locale")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def collation_version(self) -> typing.Optional[builtins.str]:
        '''Maps to the ``COLLATION_VERSION`` parameter of ``CREATE DATABASE``.

        This
        setting cannot be changed.

        :schema: DatabaseSpec#collationVersion
        '''
        result = self._values.get("collation_version")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def connection_limit(self) -> typing.Optional[jsii.Number]:
        '''Maps to the ``CONNECTION LIMIT`` clause of ``CREATE DATABASE`` and ``ALTER DATABASE``.

        How many concurrent connections can be made to
        this database. -1 (the default) means no limit.

        :schema: DatabaseSpec#connectionLimit
        '''
        result = self._values.get("connection_limit")
        return typing.cast(typing.Optional[jsii.Number], result)

    @builtins.property
    def database_reclaim_policy(
        self,
    ) -> typing.Optional["DatabaseSpecDatabaseReclaimPolicy"]:
        '''The policy for end-of-life maintenance of this database.

        :schema: DatabaseSpec#databaseReclaimPolicy
        '''
        result = self._values.get("database_reclaim_policy")
        return typing.cast(typing.Optional["DatabaseSpecDatabaseReclaimPolicy"], result)

    @builtins.property
    def encoding(self) -> typing.Optional[builtins.str]:
        '''Maps to the ``ENCODING`` parameter of ``CREATE DATABASE``.

        This setting
        cannot be changed. Character set encoding to use in the database.

        :schema: DatabaseSpec#encoding
        '''
        result = self._values.get("encoding")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def ensure(self) -> typing.Optional["DatabaseSpecEnsure"]:
        '''Ensure the PostgreSQL database is ``present`` or ``absent`` - defaults to "present".

        :schema: DatabaseSpec#ensure
        '''
        result = self._values.get("ensure")
        return typing.cast(typing.Optional["DatabaseSpecEnsure"], result)

    @builtins.property
    def extensions(self) -> typing.Optional[typing.List["DatabaseSpecExtensions"]]:
        '''The list of extensions to be managed in the database.

        :schema: DatabaseSpec#extensions
        '''
        result = self._values.get("extensions")
        return typing.cast(typing.Optional[typing.List["DatabaseSpecExtensions"]], result)

    @builtins.property
    def fdws(self) -> typing.Optional[typing.List["DatabaseSpecFdws"]]:
        '''The list of foreign data wrappers to be managed in the database.

        :schema: DatabaseSpec#fdws
        '''
        result = self._values.get("fdws")
        return typing.cast(typing.Optional[typing.List["DatabaseSpecFdws"]], result)

    @builtins.property
    def icu_locale(self) -> typing.Optional[builtins.str]:
        '''Maps to the ``ICU_LOCALE`` parameter of ``CREATE DATABASE``.

        This
        setting cannot be changed. Specifies the ICU locale when the ICU
        provider is used. This option requires ``localeProvider`` to be set to
        ``icu``. Available from PostgreSQL 15.

        :schema: DatabaseSpec#icuLocale
        '''
        result = self._values.get("icu_locale")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def icu_rules(self) -> typing.Optional[builtins.str]:
        '''Maps to the ``ICU_RULES`` parameter of ``CREATE DATABASE``.

        This setting
        cannot be changed. Specifies additional collation rules to customize
        the behavior of the default collation. This option requires
        ``localeProvider`` to be set to ``icu``. Available from PostgreSQL 16.

        :schema: DatabaseSpec#icuRules
        '''
        result = self._values.get("icu_rules")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def is_template(self) -> typing.Optional[builtins.bool]:
        '''Maps to the ``IS_TEMPLATE`` parameter of ``CREATE DATABASE`` and ``ALTER DATABASE``.

        If true, this database is considered a template and can
        be cloned by any user with ``CREATEDB`` privileges.

        :schema: DatabaseSpec#isTemplate
        '''
        result = self._values.get("is_template")
        return typing.cast(typing.Optional[builtins.bool], result)

    @builtins.property
    def locale(self) -> typing.Optional[builtins.str]:
        '''Maps to the ``LOCALE`` parameter of ``CREATE DATABASE``.

        This setting
        cannot be changed. Sets the default collation order and character
        classification in the new database.

        :schema: DatabaseSpec#locale
        '''
        result = self._values.get("locale")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def locale_collate(self) -> typing.Optional[builtins.str]:
        '''Maps to the ``LC_COLLATE`` parameter of ``CREATE DATABASE``.

        This
        setting cannot be changed.

        :schema: DatabaseSpec#localeCollate
        '''
        result = self._values.get("locale_collate")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def locale_c_type(self) -> typing.Optional[builtins.str]:
        '''Maps to the ``LC_CTYPE`` parameter of ``CREATE DATABASE``.

        This setting
        cannot be changed.

        :schema: DatabaseSpec#localeCType
        '''
        result = self._values.get("locale_c_type")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def locale_provider(self) -> typing.Optional[builtins.str]:
        '''Maps to the ``LOCALE_PROVIDER`` parameter of ``CREATE DATABASE``.

        This
        setting cannot be changed. This option sets the locale provider for
        databases created in the new cluster. Available from PostgreSQL 16.

        :schema: DatabaseSpec#localeProvider
        '''
        result = self._values.get("locale_provider")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def schemas(self) -> typing.Optional[typing.List["DatabaseSpecSchemas"]]:
        '''The list of schemas to be managed in the database.

        :schema: DatabaseSpec#schemas
        '''
        result = self._values.get("schemas")
        return typing.cast(typing.Optional[typing.List["DatabaseSpecSchemas"]], result)

    @builtins.property
    def servers(self) -> typing.Optional[typing.List["DatabaseSpecServers"]]:
        '''The list of foreign servers to be managed in the database.

        :schema: DatabaseSpec#servers
        '''
        result = self._values.get("servers")
        return typing.cast(typing.Optional[typing.List["DatabaseSpecServers"]], result)

    @builtins.property
    def tablespace(self) -> typing.Optional[builtins.str]:
        '''Maps to the ``TABLESPACE`` parameter of ``CREATE DATABASE``.

        Maps to the ``SET TABLESPACE`` command of ``ALTER DATABASE``.
        The name of the tablespace (in PostgreSQL) that will be associated
        with the new database. This tablespace will be the default
        tablespace used for objects created in this database.

        :schema: DatabaseSpec#tablespace
        '''
        result = self._values.get("tablespace")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def template(self) -> typing.Optional[builtins.str]:
        '''Maps to the ``TEMPLATE`` parameter of ``CREATE DATABASE``.

        This setting
        cannot be changed. The name of the template from which to create
        this database.

        :schema: DatabaseSpec#template
        '''
        result = self._values.get("template")
        return typing.cast(typing.Optional[builtins.str], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "DatabaseSpec(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecCluster",
    jsii_struct_bases=[],
    name_mapping={"name": "name"},
)
class DatabaseSpecCluster:
    def __init__(self, *, name: typing.Optional[builtins.str] = None) -> None:
        '''The name of the PostgreSQL cluster hosting the database.

        :param name: Name of the referent. This field is effectively required, but due to backwards compatibility is allowed to be empty. Instances of this type with an empty value here are almost certainly wrong. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#names

        :schema: DatabaseSpecCluster
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__3a4fa3e432a735852dda61b5ee11c7d8a60d76e10d32c0956eabd241b7f5e641)
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
        self._values: typing.Dict[builtins.str, typing.Any] = {}
        if name is not None:
            self._values["name"] = name

    @builtins.property
    def name(self) -> typing.Optional[builtins.str]:
        '''Name of the referent.

        This field is effectively required, but due to backwards compatibility is
        allowed to be empty. Instances of this type with an empty value here are
        almost certainly wrong.
        More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#names

        :schema: DatabaseSpecCluster#name
        '''
        result = self._values.get("name")
        return typing.cast(typing.Optional[builtins.str], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "DatabaseSpecCluster(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.enum(
    jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecDatabaseReclaimPolicy"
)
class DatabaseSpecDatabaseReclaimPolicy(enum.Enum):
    '''The policy for end-of-life maintenance of this database.

    :schema: DatabaseSpecDatabaseReclaimPolicy
    '''

    DELETE = "DELETE"
    '''delete.'''
    RETAIN = "RETAIN"
    '''retain.'''


@jsii.enum(jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecEnsure")
class DatabaseSpecEnsure(enum.Enum):
    '''Ensure the PostgreSQL database is ``present`` or ``absent`` - defaults to "present".

    :schema: DatabaseSpecEnsure
    '''

    PRESENT = "PRESENT"
    '''present.'''
    ABSENT = "ABSENT"
    '''absent.'''


@jsii.data_type(
    jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecExtensions",
    jsii_struct_bases=[],
    name_mapping={
        "name": "name",
        "ensure": "ensure",
        "schema": "schema",
        "version": "version",
    },
)
class DatabaseSpecExtensions:
    def __init__(
        self,
        *,
        name: builtins.str,
        ensure: typing.Optional["DatabaseSpecExtensionsEnsure"] = None,
        schema: typing.Optional[builtins.str] = None,
        version: typing.Optional[builtins.str] = None,
    ) -> None:
        '''ExtensionSpec configures an extension in a database.

        :param name: Name of the object (extension, schema, FDW, server).
        :param ensure: Specifies whether an object (e.g schema) should be present or absent in the database. If set to ``present``, the object will be created if it does not exist. If set to ``absent``, the extension/schema will be removed if it exists.
        :param schema: The name of the schema in which to install the extension's objects, in case the extension allows its contents to be relocated. If not specified (default), and the extension's control file does not specify a schema either, the current default object creation schema is used.
        :param version: The version of the extension to install. If empty, the operator will install the default version (whatever is specified in the extension's control file)

        :schema: DatabaseSpecExtensions
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__e90edc92339da207c1f0afaac62b7c4986f9286bb4753b2f00913940b32e2630)
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
            check_type(argname="argument ensure", value=ensure, expected_type=type_hints["ensure"])
            check_type(argname="argument schema", value=schema, expected_type=type_hints["schema"])
            check_type(argname="argument version", value=version, expected_type=type_hints["version"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "name": name,
        }
        if ensure is not None:
            self._values["ensure"] = ensure
        if schema is not None:
            self._values["schema"] = schema
        if version is not None:
            self._values["version"] = version

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the object (extension, schema, FDW, server).

        :schema: DatabaseSpecExtensions#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def ensure(self) -> typing.Optional["DatabaseSpecExtensionsEnsure"]:
        '''Specifies whether an object (e.g schema) should be present or absent in the database. If set to ``present``, the object will be created if it does not exist. If set to ``absent``, the extension/schema will be removed if it exists.

        :schema: DatabaseSpecExtensions#ensure
        '''
        result = self._values.get("ensure")
        return typing.cast(typing.Optional["DatabaseSpecExtensionsEnsure"], result)

    @builtins.property
    def schema(self) -> typing.Optional[builtins.str]:
        '''The name of the schema in which to install the extension's objects, in case the extension allows its contents to be relocated.

        If not
        specified (default), and the extension's control file does not
        specify a schema either, the current default object creation schema
        is used.

        :schema: DatabaseSpecExtensions#schema
        '''
        result = self._values.get("schema")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def version(self) -> typing.Optional[builtins.str]:
        '''The version of the extension to install.

        If empty, the operator will
        install the default version (whatever is specified in the
        extension's control file)

        :schema: DatabaseSpecExtensions#version
        '''
        result = self._values.get("version")
        return typing.cast(typing.Optional[builtins.str], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "DatabaseSpecExtensions(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.enum(jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecExtensionsEnsure")
class DatabaseSpecExtensionsEnsure(enum.Enum):
    '''Specifies whether an object (e.g schema) should be present or absent in the database. If set to ``present``, the object will be created if it does not exist. If set to ``absent``, the extension/schema will be removed if it exists.

    :schema: DatabaseSpecExtensionsEnsure
    '''

    PRESENT = "PRESENT"
    '''present.'''
    ABSENT = "ABSENT"
    '''absent.'''


@jsii.data_type(
    jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecFdws",
    jsii_struct_bases=[],
    name_mapping={
        "name": "name",
        "ensure": "ensure",
        "handler": "handler",
        "options": "options",
        "owner": "owner",
        "usage": "usage",
        "validator": "validator",
    },
)
class DatabaseSpecFdws:
    def __init__(
        self,
        *,
        name: builtins.str,
        ensure: typing.Optional["DatabaseSpecFdwsEnsure"] = None,
        handler: typing.Optional[builtins.str] = None,
        options: typing.Optional[typing.Sequence[typing.Union["DatabaseSpecFdwsOptions", typing.Dict[builtins.str, typing.Any]]]] = None,
        owner: typing.Optional[builtins.str] = None,
        usage: typing.Optional[typing.Sequence[typing.Union["DatabaseSpecFdwsUsage", typing.Dict[builtins.str, typing.Any]]]] = None,
        validator: typing.Optional[builtins.str] = None,
    ) -> None:
        '''FDWSpec configures an Foreign Data Wrapper in a database.

        :param name: Name of the object (extension, schema, FDW, server).
        :param ensure: Specifies whether an object (e.g schema) should be present or absent in the database. If set to ``present``, the object will be created if it does not exist. If set to ``absent``, the extension/schema will be removed if it exists.
        :param handler: Name of the handler function (e.g., "postgres_fdw_handler"). This will be empty if no handler is specified. In that case, the default handler is registered when the FDW extension is created.
        :param options: Options specifies the configuration options for the FDW.
        :param owner: Owner specifies the database role that will own the Foreign Data Wrapper. The role must have superuser privileges in the target database.
        :param usage: List of roles for which ``USAGE`` privileges on the FDW are granted or revoked.
        :param validator: Name of the validator function (e.g., "postgres_fdw_validator"). This will be empty if no validator is specified. In that case, the default validator is registered when the FDW extension is created.

        :schema: DatabaseSpecFdws
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__0ec04072c399489af5798e04860b428a908434191c630d2765ce1dce0038a716)
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
            check_type(argname="argument ensure", value=ensure, expected_type=type_hints["ensure"])
            check_type(argname="argument handler", value=handler, expected_type=type_hints["handler"])
            check_type(argname="argument options", value=options, expected_type=type_hints["options"])
            check_type(argname="argument owner", value=owner, expected_type=type_hints["owner"])
            check_type(argname="argument usage", value=usage, expected_type=type_hints["usage"])
            check_type(argname="argument validator", value=validator, expected_type=type_hints["validator"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "name": name,
        }
        if ensure is not None:
            self._values["ensure"] = ensure
        if handler is not None:
            self._values["handler"] = handler
        if options is not None:
            self._values["options"] = options
        if owner is not None:
            self._values["owner"] = owner
        if usage is not None:
            self._values["usage"] = usage
        if validator is not None:
            self._values["validator"] = validator

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the object (extension, schema, FDW, server).

        :schema: DatabaseSpecFdws#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def ensure(self) -> typing.Optional["DatabaseSpecFdwsEnsure"]:
        '''Specifies whether an object (e.g schema) should be present or absent in the database. If set to ``present``, the object will be created if it does not exist. If set to ``absent``, the extension/schema will be removed if it exists.

        :schema: DatabaseSpecFdws#ensure
        '''
        result = self._values.get("ensure")
        return typing.cast(typing.Optional["DatabaseSpecFdwsEnsure"], result)

    @builtins.property
    def handler(self) -> typing.Optional[builtins.str]:
        '''Name of the handler function (e.g., "postgres_fdw_handler"). This will be empty if no handler is specified. In that case, the default handler is registered when the FDW extension is created.

        :schema: DatabaseSpecFdws#handler
        '''
        result = self._values.get("handler")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def options(self) -> typing.Optional[typing.List["DatabaseSpecFdwsOptions"]]:
        '''Options specifies the configuration options for the FDW.

        :schema: DatabaseSpecFdws#options
        '''
        result = self._values.get("options")
        return typing.cast(typing.Optional[typing.List["DatabaseSpecFdwsOptions"]], result)

    @builtins.property
    def owner(self) -> typing.Optional[builtins.str]:
        '''Owner specifies the database role that will own the Foreign Data Wrapper.

        The role must have superuser privileges in the target database.

        :schema: DatabaseSpecFdws#owner
        '''
        result = self._values.get("owner")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def usage(self) -> typing.Optional[typing.List["DatabaseSpecFdwsUsage"]]:
        '''List of roles for which ``USAGE`` privileges on the FDW are granted or revoked.

        :schema: DatabaseSpecFdws#usage
        '''
        result = self._values.get("usage")
        return typing.cast(typing.Optional[typing.List["DatabaseSpecFdwsUsage"]], result)

    @builtins.property
    def validator(self) -> typing.Optional[builtins.str]:
        '''Name of the validator function (e.g., "postgres_fdw_validator"). This will be empty if no validator is specified. In that case, the default validator is registered when the FDW extension is created.

        :schema: DatabaseSpecFdws#validator
        '''
        result = self._values.get("validator")
        return typing.cast(typing.Optional[builtins.str], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "DatabaseSpecFdws(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.enum(jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecFdwsEnsure")
class DatabaseSpecFdwsEnsure(enum.Enum):
    '''Specifies whether an object (e.g schema) should be present or absent in the database. If set to ``present``, the object will be created if it does not exist. If set to ``absent``, the extension/schema will be removed if it exists.

    :schema: DatabaseSpecFdwsEnsure
    '''

    PRESENT = "PRESENT"
    '''present.'''
    ABSENT = "ABSENT"
    '''absent.'''


@jsii.data_type(
    jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecFdwsOptions",
    jsii_struct_bases=[],
    name_mapping={"name": "name", "value": "value", "ensure": "ensure"},
)
class DatabaseSpecFdwsOptions:
    def __init__(
        self,
        *,
        name: builtins.str,
        value: builtins.str,
        ensure: typing.Optional["DatabaseSpecFdwsOptionsEnsure"] = None,
    ) -> None:
        '''OptionSpec holds the name, value and the ensure field for an option.

        :param name: Name of the option.
        :param value: Value of the option.
        :param ensure: Specifies whether an option should be present or absent in the database. If set to ``present``, the option will be created if it does not exist. If set to ``absent``, the option will be removed if it exists.

        :schema: DatabaseSpecFdwsOptions
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__917345c5a47ceef923d5775abad144273d69f8b6b9e0441e9dc46db65d331a37)
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
            check_type(argname="argument value", value=value, expected_type=type_hints["value"])
            check_type(argname="argument ensure", value=ensure, expected_type=type_hints["ensure"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "name": name,
            "value": value,
        }
        if ensure is not None:
            self._values["ensure"] = ensure

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the option.

        :schema: DatabaseSpecFdwsOptions#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def value(self) -> builtins.str:
        '''Value of the option.

        :schema: DatabaseSpecFdwsOptions#value
        '''
        result = self._values.get("value")
        assert result is not None, "Required property 'value' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def ensure(self) -> typing.Optional["DatabaseSpecFdwsOptionsEnsure"]:
        '''Specifies whether an option should be present or absent in the database.

        If set to ``present``, the option will be
        created if it does not exist. If set to ``absent``, the
        option will be removed if it exists.

        :schema: DatabaseSpecFdwsOptions#ensure
        '''
        result = self._values.get("ensure")
        return typing.cast(typing.Optional["DatabaseSpecFdwsOptionsEnsure"], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "DatabaseSpecFdwsOptions(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.enum(jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecFdwsOptionsEnsure")
class DatabaseSpecFdwsOptionsEnsure(enum.Enum):
    '''Specifies whether an option should be present or absent in the database.

    If set to ``present``, the option will be
    created if it does not exist. If set to ``absent``, the
    option will be removed if it exists.

    :schema: DatabaseSpecFdwsOptionsEnsure
    '''

    PRESENT = "PRESENT"
    '''present.'''
    ABSENT = "ABSENT"
    '''absent.'''


@jsii.data_type(
    jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecFdwsUsage",
    jsii_struct_bases=[],
    name_mapping={"name": "name", "type": "type"},
)
class DatabaseSpecFdwsUsage:
    def __init__(
        self,
        *,
        name: builtins.str,
        type: typing.Optional["DatabaseSpecFdwsUsageType"] = None,
    ) -> None:
        '''UsageSpec configures a usage for a foreign data wrapper.

        :param name: Name of the usage.
        :param type: The type of usage.

        :schema: DatabaseSpecFdwsUsage
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__b25662e65664d3fdef89b5cf54e918f51d45684735b0cfb50f5834e983d76a65)
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
            check_type(argname="argument type", value=type, expected_type=type_hints["type"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "name": name,
        }
        if type is not None:
            self._values["type"] = type

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the usage.

        :schema: DatabaseSpecFdwsUsage#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def type(self) -> typing.Optional["DatabaseSpecFdwsUsageType"]:
        '''The type of usage.

        :schema: DatabaseSpecFdwsUsage#type
        '''
        result = self._values.get("type")
        return typing.cast(typing.Optional["DatabaseSpecFdwsUsageType"], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "DatabaseSpecFdwsUsage(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.enum(jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecFdwsUsageType")
class DatabaseSpecFdwsUsageType(enum.Enum):
    '''The type of usage.

    :schema: DatabaseSpecFdwsUsageType
    '''

    GRANT = "GRANT"
    '''grant.'''
    REVOKE = "REVOKE"
    '''revoke.'''


@jsii.data_type(
    jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecSchemas",
    jsii_struct_bases=[],
    name_mapping={"name": "name", "ensure": "ensure", "owner": "owner"},
)
class DatabaseSpecSchemas:
    def __init__(
        self,
        *,
        name: builtins.str,
        ensure: typing.Optional["DatabaseSpecSchemasEnsure"] = None,
        owner: typing.Optional[builtins.str] = None,
    ) -> None:
        '''SchemaSpec configures a schema in a database.

        :param name: Name of the object (extension, schema, FDW, server).
        :param ensure: Specifies whether an object (e.g schema) should be present or absent in the database. If set to ``present``, the object will be created if it does not exist. If set to ``absent``, the extension/schema will be removed if it exists.
        :param owner: The role name of the user who owns the schema inside PostgreSQL. It maps to the ``AUTHORIZATION`` parameter of ``CREATE SCHEMA`` and the ``OWNER TO`` command of ``ALTER SCHEMA``.

        :schema: DatabaseSpecSchemas
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__a5a6c179cf6a3135290e09629cc47af45e3b785834113bcc3cde4593abb55bc1)
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
            check_type(argname="argument ensure", value=ensure, expected_type=type_hints["ensure"])
            check_type(argname="argument owner", value=owner, expected_type=type_hints["owner"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "name": name,
        }
        if ensure is not None:
            self._values["ensure"] = ensure
        if owner is not None:
            self._values["owner"] = owner

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the object (extension, schema, FDW, server).

        :schema: DatabaseSpecSchemas#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def ensure(self) -> typing.Optional["DatabaseSpecSchemasEnsure"]:
        '''Specifies whether an object (e.g schema) should be present or absent in the database. If set to ``present``, the object will be created if it does not exist. If set to ``absent``, the extension/schema will be removed if it exists.

        :schema: DatabaseSpecSchemas#ensure
        '''
        result = self._values.get("ensure")
        return typing.cast(typing.Optional["DatabaseSpecSchemasEnsure"], result)

    @builtins.property
    def owner(self) -> typing.Optional[builtins.str]:
        '''The role name of the user who owns the schema inside PostgreSQL.

        It maps to the ``AUTHORIZATION`` parameter of ``CREATE SCHEMA`` and the
        ``OWNER TO`` command of ``ALTER SCHEMA``.

        :schema: DatabaseSpecSchemas#owner
        '''
        result = self._values.get("owner")
        return typing.cast(typing.Optional[builtins.str], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "DatabaseSpecSchemas(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.enum(jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecSchemasEnsure")
class DatabaseSpecSchemasEnsure(enum.Enum):
    '''Specifies whether an object (e.g schema) should be present or absent in the database. If set to ``present``, the object will be created if it does not exist. If set to ``absent``, the extension/schema will be removed if it exists.

    :schema: DatabaseSpecSchemasEnsure
    '''

    PRESENT = "PRESENT"
    '''present.'''
    ABSENT = "ABSENT"
    '''absent.'''


@jsii.data_type(
    jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecServers",
    jsii_struct_bases=[],
    name_mapping={
        "fdw": "fdw",
        "name": "name",
        "ensure": "ensure",
        "options": "options",
        "usage": "usage",
    },
)
class DatabaseSpecServers:
    def __init__(
        self,
        *,
        fdw: builtins.str,
        name: builtins.str,
        ensure: typing.Optional["DatabaseSpecServersEnsure"] = None,
        options: typing.Optional[typing.Sequence[typing.Union["DatabaseSpecServersOptions", typing.Dict[builtins.str, typing.Any]]]] = None,
        usage: typing.Optional[typing.Sequence[typing.Union["DatabaseSpecServersUsage", typing.Dict[builtins.str, typing.Any]]]] = None,
    ) -> None:
        '''ServerSpec configures a server of a foreign data wrapper.

        :param fdw: The name of the Foreign Data Wrapper (FDW).
        :param name: Name of the object (extension, schema, FDW, server).
        :param ensure: Specifies whether an object (e.g schema) should be present or absent in the database. If set to ``present``, the object will be created if it does not exist. If set to ``absent``, the extension/schema will be removed if it exists.
        :param options: Options specifies the configuration options for the server (key is the option name, value is the option value).
        :param usage: List of roles for which ``USAGE`` privileges on the server are granted or revoked.

        :schema: DatabaseSpecServers
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__3bb6a7ef4c4af8108982ebc65c73d1df9d870c39b1f7d75ed9d809142a71ea2b)
            check_type(argname="argument fdw", value=fdw, expected_type=type_hints["fdw"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
            check_type(argname="argument ensure", value=ensure, expected_type=type_hints["ensure"])
            check_type(argname="argument options", value=options, expected_type=type_hints["options"])
            check_type(argname="argument usage", value=usage, expected_type=type_hints["usage"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "fdw": fdw,
            "name": name,
        }
        if ensure is not None:
            self._values["ensure"] = ensure
        if options is not None:
            self._values["options"] = options
        if usage is not None:
            self._values["usage"] = usage

    @builtins.property
    def fdw(self) -> builtins.str:
        '''The name of the Foreign Data Wrapper (FDW).

        :schema: DatabaseSpecServers#fdw
        '''
        result = self._values.get("fdw")
        assert result is not None, "Required property 'fdw' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the object (extension, schema, FDW, server).

        :schema: DatabaseSpecServers#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def ensure(self) -> typing.Optional["DatabaseSpecServersEnsure"]:
        '''Specifies whether an object (e.g schema) should be present or absent in the database. If set to ``present``, the object will be created if it does not exist. If set to ``absent``, the extension/schema will be removed if it exists.

        :schema: DatabaseSpecServers#ensure
        '''
        result = self._values.get("ensure")
        return typing.cast(typing.Optional["DatabaseSpecServersEnsure"], result)

    @builtins.property
    def options(self) -> typing.Optional[typing.List["DatabaseSpecServersOptions"]]:
        '''Options specifies the configuration options for the server (key is the option name, value is the option value).

        :schema: DatabaseSpecServers#options
        '''
        result = self._values.get("options")
        return typing.cast(typing.Optional[typing.List["DatabaseSpecServersOptions"]], result)

    @builtins.property
    def usage(self) -> typing.Optional[typing.List["DatabaseSpecServersUsage"]]:
        '''List of roles for which ``USAGE`` privileges on the server are granted or revoked.

        :schema: DatabaseSpecServers#usage
        '''
        result = self._values.get("usage")
        return typing.cast(typing.Optional[typing.List["DatabaseSpecServersUsage"]], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "DatabaseSpecServers(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.enum(jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecServersEnsure")
class DatabaseSpecServersEnsure(enum.Enum):
    '''Specifies whether an object (e.g schema) should be present or absent in the database. If set to ``present``, the object will be created if it does not exist. If set to ``absent``, the extension/schema will be removed if it exists.

    :schema: DatabaseSpecServersEnsure
    '''

    PRESENT = "PRESENT"
    '''present.'''
    ABSENT = "ABSENT"
    '''absent.'''


@jsii.data_type(
    jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecServersOptions",
    jsii_struct_bases=[],
    name_mapping={"name": "name", "value": "value", "ensure": "ensure"},
)
class DatabaseSpecServersOptions:
    def __init__(
        self,
        *,
        name: builtins.str,
        value: builtins.str,
        ensure: typing.Optional["DatabaseSpecServersOptionsEnsure"] = None,
    ) -> None:
        '''OptionSpec holds the name, value and the ensure field for an option.

        :param name: Name of the option.
        :param value: Value of the option.
        :param ensure: Specifies whether an option should be present or absent in the database. If set to ``present``, the option will be created if it does not exist. If set to ``absent``, the option will be removed if it exists.

        :schema: DatabaseSpecServersOptions
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__f8f0cd458e62c668ab5ace8757cd89061369ac054278d09bdd250c48b67a4c0c)
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
            check_type(argname="argument value", value=value, expected_type=type_hints["value"])
            check_type(argname="argument ensure", value=ensure, expected_type=type_hints["ensure"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "name": name,
            "value": value,
        }
        if ensure is not None:
            self._values["ensure"] = ensure

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the option.

        :schema: DatabaseSpecServersOptions#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def value(self) -> builtins.str:
        '''Value of the option.

        :schema: DatabaseSpecServersOptions#value
        '''
        result = self._values.get("value")
        assert result is not None, "Required property 'value' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def ensure(self) -> typing.Optional["DatabaseSpecServersOptionsEnsure"]:
        '''Specifies whether an option should be present or absent in the database.

        If set to ``present``, the option will be
        created if it does not exist. If set to ``absent``, the
        option will be removed if it exists.

        :schema: DatabaseSpecServersOptions#ensure
        '''
        result = self._values.get("ensure")
        return typing.cast(typing.Optional["DatabaseSpecServersOptionsEnsure"], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "DatabaseSpecServersOptions(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.enum(
    jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecServersOptionsEnsure"
)
class DatabaseSpecServersOptionsEnsure(enum.Enum):
    '''Specifies whether an option should be present or absent in the database.

    If set to ``present``, the option will be
    created if it does not exist. If set to ``absent``, the
    option will be removed if it exists.

    :schema: DatabaseSpecServersOptionsEnsure
    '''

    PRESENT = "PRESENT"
    '''present.'''
    ABSENT = "ABSENT"
    '''absent.'''


@jsii.data_type(
    jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecServersUsage",
    jsii_struct_bases=[],
    name_mapping={"name": "name", "type": "type"},
)
class DatabaseSpecServersUsage:
    def __init__(
        self,
        *,
        name: builtins.str,
        type: typing.Optional["DatabaseSpecServersUsageType"] = None,
    ) -> None:
        '''UsageSpec configures a usage for a foreign data wrapper.

        :param name: Name of the usage.
        :param type: The type of usage.

        :schema: DatabaseSpecServersUsage
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__cf5045b7d930015781112a2a2a0d3faaf079fb6ce97618ce797055aae3ed9c41)
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
            check_type(argname="argument type", value=type, expected_type=type_hints["type"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "name": name,
        }
        if type is not None:
            self._values["type"] = type

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the usage.

        :schema: DatabaseSpecServersUsage#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def type(self) -> typing.Optional["DatabaseSpecServersUsageType"]:
        '''The type of usage.

        :schema: DatabaseSpecServersUsage#type
        '''
        result = self._values.get("type")
        return typing.cast(typing.Optional["DatabaseSpecServersUsageType"], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "DatabaseSpecServersUsage(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.enum(jsii_type="cnpg_databases_iocnpgpostgresql.DatabaseSpecServersUsageType")
class DatabaseSpecServersUsageType(enum.Enum):
    '''The type of usage.

    :schema: DatabaseSpecServersUsageType
    '''

    GRANT = "GRANT"
    '''grant.'''
    REVOKE = "REVOKE"
    '''revoke.'''


__all__ = [
    "Database",
    "DatabaseProps",
    "DatabaseSpec",
    "DatabaseSpecCluster",
    "DatabaseSpecDatabaseReclaimPolicy",
    "DatabaseSpecEnsure",
    "DatabaseSpecExtensions",
    "DatabaseSpecExtensionsEnsure",
    "DatabaseSpecFdws",
    "DatabaseSpecFdwsEnsure",
    "DatabaseSpecFdwsOptions",
    "DatabaseSpecFdwsOptionsEnsure",
    "DatabaseSpecFdwsUsage",
    "DatabaseSpecFdwsUsageType",
    "DatabaseSpecSchemas",
    "DatabaseSpecSchemasEnsure",
    "DatabaseSpecServers",
    "DatabaseSpecServersEnsure",
    "DatabaseSpecServersOptions",
    "DatabaseSpecServersOptionsEnsure",
    "DatabaseSpecServersUsage",
    "DatabaseSpecServersUsageType",
]

publication.publish()

def _typecheckingstub__fb57ef847941ee70df404a9a8ecd72350e0b19790b7f01b6dd6499ae2e24edf3(
    scope: _constructs_77d1e7e8.Construct,
    id: builtins.str,
    *,
    metadata: typing.Union[_cdk8s_d3d9af27.ApiObjectMetadata, typing.Dict[builtins.str, typing.Any]],
    spec: typing.Union[DatabaseSpec, typing.Dict[builtins.str, typing.Any]],
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__4fc109a467bf86ce8b849c8c25d68f5a26f8fe33dd338a57e7bc89c685d3b719(
    *,
    metadata: typing.Union[_cdk8s_d3d9af27.ApiObjectMetadata, typing.Dict[builtins.str, typing.Any]],
    spec: typing.Union[DatabaseSpec, typing.Dict[builtins.str, typing.Any]],
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__cacfbd633a049a2581e870646b5782e2352dd316e654e9b07b2578f05647d84e(
    *,
    cluster: typing.Union[DatabaseSpecCluster, typing.Dict[builtins.str, typing.Any]],
    name: builtins.str,
    owner: builtins.str,
    allow_connections: typing.Optional[builtins.bool] = None,
    builtin_locale: typing.Optional[builtins.str] = None,
    collation_version: typing.Optional[builtins.str] = None,
    connection_limit: typing.Optional[jsii.Number] = None,
    database_reclaim_policy: typing.Optional[DatabaseSpecDatabaseReclaimPolicy] = None,
    encoding: typing.Optional[builtins.str] = None,
    ensure: typing.Optional[DatabaseSpecEnsure] = None,
    extensions: typing.Optional[typing.Sequence[typing.Union[DatabaseSpecExtensions, typing.Dict[builtins.str, typing.Any]]]] = None,
    fdws: typing.Optional[typing.Sequence[typing.Union[DatabaseSpecFdws, typing.Dict[builtins.str, typing.Any]]]] = None,
    icu_locale: typing.Optional[builtins.str] = None,
    icu_rules: typing.Optional[builtins.str] = None,
    is_template: typing.Optional[builtins.bool] = None,
    locale: typing.Optional[builtins.str] = None,
    locale_collate: typing.Optional[builtins.str] = None,
    locale_c_type: typing.Optional[builtins.str] = None,
    locale_provider: typing.Optional[builtins.str] = None,
    schemas: typing.Optional[typing.Sequence[typing.Union[DatabaseSpecSchemas, typing.Dict[builtins.str, typing.Any]]]] = None,
    servers: typing.Optional[typing.Sequence[typing.Union[DatabaseSpecServers, typing.Dict[builtins.str, typing.Any]]]] = None,
    tablespace: typing.Optional[builtins.str] = None,
    template: typing.Optional[builtins.str] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__3a4fa3e432a735852dda61b5ee11c7d8a60d76e10d32c0956eabd241b7f5e641(
    *,
    name: typing.Optional[builtins.str] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__e90edc92339da207c1f0afaac62b7c4986f9286bb4753b2f00913940b32e2630(
    *,
    name: builtins.str,
    ensure: typing.Optional[DatabaseSpecExtensionsEnsure] = None,
    schema: typing.Optional[builtins.str] = None,
    version: typing.Optional[builtins.str] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__0ec04072c399489af5798e04860b428a908434191c630d2765ce1dce0038a716(
    *,
    name: builtins.str,
    ensure: typing.Optional[DatabaseSpecFdwsEnsure] = None,
    handler: typing.Optional[builtins.str] = None,
    options: typing.Optional[typing.Sequence[typing.Union[DatabaseSpecFdwsOptions, typing.Dict[builtins.str, typing.Any]]]] = None,
    owner: typing.Optional[builtins.str] = None,
    usage: typing.Optional[typing.Sequence[typing.Union[DatabaseSpecFdwsUsage, typing.Dict[builtins.str, typing.Any]]]] = None,
    validator: typing.Optional[builtins.str] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__917345c5a47ceef923d5775abad144273d69f8b6b9e0441e9dc46db65d331a37(
    *,
    name: builtins.str,
    value: builtins.str,
    ensure: typing.Optional[DatabaseSpecFdwsOptionsEnsure] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__b25662e65664d3fdef89b5cf54e918f51d45684735b0cfb50f5834e983d76a65(
    *,
    name: builtins.str,
    type: typing.Optional[DatabaseSpecFdwsUsageType] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__a5a6c179cf6a3135290e09629cc47af45e3b785834113bcc3cde4593abb55bc1(
    *,
    name: builtins.str,
    ensure: typing.Optional[DatabaseSpecSchemasEnsure] = None,
    owner: typing.Optional[builtins.str] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__3bb6a7ef4c4af8108982ebc65c73d1df9d870c39b1f7d75ed9d809142a71ea2b(
    *,
    fdw: builtins.str,
    name: builtins.str,
    ensure: typing.Optional[DatabaseSpecServersEnsure] = None,
    options: typing.Optional[typing.Sequence[typing.Union[DatabaseSpecServersOptions, typing.Dict[builtins.str, typing.Any]]]] = None,
    usage: typing.Optional[typing.Sequence[typing.Union[DatabaseSpecServersUsage, typing.Dict[builtins.str, typing.Any]]]] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__f8f0cd458e62c668ab5ace8757cd89061369ac054278d09bdd250c48b67a4c0c(
    *,
    name: builtins.str,
    value: builtins.str,
    ensure: typing.Optional[DatabaseSpecServersOptionsEnsure] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__cf5045b7d930015781112a2a2a0d3faaf079fb6ce97618ce797055aae3ed9c41(
    *,
    name: builtins.str,
    type: typing.Optional[DatabaseSpecServersUsageType] = None,
) -> None:
    """Type checking stubs"""
    pass
